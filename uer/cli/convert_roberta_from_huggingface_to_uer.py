r"""Convert RoBERTa: Hugging Face -> UER (RobertaForMaskedLM or RobertaModel).

Prints a key report (mapped, absent, dropped) and, with --check (default when transformers and the
config are there), the max abs difference of both models' outputs on the same input.

    python scripts/convert_roberta_from_huggingface_to_uer.py \
        --input_model_path hf_model_folder --output_model_path models/uer_model.bin
"""
from uer.conversion.cli import conversion_parser, run_hf_to_uer
from uer.conversion.specs import SPECS
from uer.utils.errors import cli_main


@cli_main
def main() -> None:
    spec = SPECS["roberta"]
    parser = conversion_parser(__doc__, "hf2uer", targets=spec.targets)
    run_hf_to_uer(spec, parser.parse_args())


if __name__ == "__main__":
    main()
