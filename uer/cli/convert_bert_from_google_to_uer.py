r"""Convert Google's TensorFlow BERT checkpoints to UER (prints a key report; --check compares outputs).

    python scripts/convert_bert_from_google_to_uer.py --input_model_path uncased_L-12_H-768_A-12/bert_model.ckpt \
        --output_model_path models/google_model.bin

--input_model_path is the checkpoint prefix (its .index and .data-* files) or their folder; the
sidecar comes from bert_config.json beside it. Needs TensorFlow (pip install tensorflow-cpu).
"""
from uer.conversion.cli import conversion_parser
from uer.conversion.google import run_google_to_uer
from uer.conversion.specs import SPECS
from uer.utils.errors import cli_main


@cli_main
def main() -> None:
    parser = conversion_parser(__doc__, "google2uer", targets=SPECS["bert"].targets)
    run_google_to_uer(parser.parse_args())


if __name__ == "__main__":
    main()
