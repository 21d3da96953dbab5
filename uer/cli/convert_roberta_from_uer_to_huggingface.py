r"""Convert RoBERTa: UER -> Hugging Face (RobertaForMaskedLM or RobertaModel).

Prints a key report (mapped, absent, dropped) and, with --check (default when transformers and the
config are there), the max abs difference of both models' outputs on the same input.

    python scripts/convert_roberta_from_uer_to_huggingface.py \
        --input_model_path models/uer_model.bin --output_model_path hf_model_folder
"""
from uer.conversion.cli import conversion_parser, run_uer_to_hf
from uer.conversion.specs import SPECS
from uer.utils.errors import cli_main


@cli_main
def main() -> None:
    spec = SPECS["roberta"]
    parser = conversion_parser(__doc__, "uer2hf", targets=spec.targets)
    run_uer_to_hf(spec, parser.parse_args())


if __name__ == "__main__":
    main()
