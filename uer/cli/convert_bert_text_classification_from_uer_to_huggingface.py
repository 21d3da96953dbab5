r"""Convert BERT sentence classifiers: UER -> Hugging Face (BertForSequenceClassification <-> run_classifier.py's head).

Prints a key report (mapped, absent, dropped) and, with --check (default when transformers and the
config are there), the max abs difference of both models' outputs on the same input.

    python scripts/convert_bert_text_classification_from_uer_to_huggingface.py \
        --input_model_path models/uer_model.bin --output_model_path hf_model_folder

bert.pooler.dense = UER output_layer_1, classifier = output_layer_2 (first-token pooling only).
"""
from uer.conversion.cli import conversion_parser, run_uer_to_hf
from uer.conversion.specs import SPECS
from uer.utils.errors import cli_main


@cli_main
def main() -> None:
    spec = SPECS["bert_text_classification"]
    parser = conversion_parser(__doc__, "uer2hf")
    run_uer_to_hf(spec, parser.parse_args())


if __name__ == "__main__":
    main()
