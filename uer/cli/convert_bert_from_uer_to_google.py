r"""Convert UER BERT checkpoints to Google's TensorFlow format (prints a key report; --check compares outputs).

    python scripts/convert_bert_from_uer_to_google.py --input_model_path models/google_model.bin \
        --output_model_path tf_model/bert_model.ckpt

Writes bert_model.ckpt.index and .data-00000-of-00001 (and bert_config.json beside them when the
model has a sidecar). Google's BERT ties its MLM output to the word embeddings, so an untied
target.mlm_linear_2.weight is not exported (the report says so). Needs TensorFlow.
"""
from uer.conversion.cli import conversion_parser
from uer.conversion.google import run_uer_to_google
from uer.conversion.specs import SPECS
from uer.utils.errors import cli_main


@cli_main
def main() -> None:
    parser = conversion_parser(__doc__, "uer2google", targets=SPECS["bert"].targets)
    run_uer_to_google(parser.parse_args())


if __name__ == "__main__":
    main()
