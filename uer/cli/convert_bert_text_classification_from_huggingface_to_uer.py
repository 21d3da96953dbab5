r"""Convert BERT sentence classifiers: Hugging Face -> UER (BertForSequenceClassification <-> run_classifier.py's head).

Prints a key report (mapped, absent, dropped) and, with --check (default when transformers and the
config are there), the max abs difference of both models' outputs on the same input.

    python scripts/convert_bert_text_classification_from_huggingface_to_uer.py \
        --input_model_path hf_model_folder --output_model_path models/uer_model.bin

bert.pooler.dense = UER output_layer_1, classifier = output_layer_2 (first-token pooling only).
"""
from uer.conversion.cli import conversion_parser, run_hf_to_uer
from uer.conversion.specs import SPECS
from uer.utils.errors import cli_main


@cli_main
def main() -> None:
    spec = SPECS["bert_text_classification"]
    parser = conversion_parser(__doc__, "hf2uer")
    run_hf_to_uer(spec, parser.parse_args())


if __name__ == "__main__":
    main()
