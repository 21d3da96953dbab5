r"""Convert T5 v1.0, T5 v1.1 and mT5: Hugging Face -> UER (T5ForConditionalGeneration / MT5ForConditionalGeneration).

Prints a key report (mapped, absent, dropped) and, with --check (default when transformers and the
config are there), the max abs difference of both models' outputs on the same input.

    python scripts/convert_t5_from_huggingface_to_uer.py \
        --input_model_path hf_model_folder --output_model_path models/uer_model.bin

--type t5|t5-v1_1|mt5 (default: what the weights and config show; v1.1 and mT5 have gated
feed-forward layers and an output layer of their own, mT5 is exported with model_type mt5).
"""
from uer.conversion.cli import conversion_parser, run_hf_to_uer
from uer.conversion.specs import SPECS, T5_TYPES
from uer.utils.errors import cli_main


@cli_main
def main() -> None:
    spec = SPECS["t5"]
    parser = conversion_parser(__doc__, "hf2uer", types=T5_TYPES)
    run_hf_to_uer(spec, parser.parse_args())


if __name__ == "__main__":
    main()
