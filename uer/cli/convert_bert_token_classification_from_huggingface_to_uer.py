r"""Convert BERT token classifiers: Hugging Face -> UER (BertForTokenClassification <-> run_ner.py's head).

Prints a key report (mapped, absent, dropped) and, with --check (default when transformers and the
config are there), the max abs difference of both models' outputs on the same input.

    python scripts/convert_bert_token_classification_from_huggingface_to_uer.py \
        --input_model_path hf_model_folder --output_model_path models/uer_model.bin

classifier [tags x H] = UER output_layer [tags + 1 x H]: UER keeps one unused last row (UER-py's
[PAD] label). The label map travels between config.json (id2label) and the sidecar (label2id).
"""
from uer.conversion.cli import conversion_parser, run_hf_to_uer
from uer.conversion.specs import SPECS
from uer.utils.errors import cli_main


@cli_main
def main() -> None:
    spec = SPECS["bert_token_classification"]
    parser = conversion_parser(__doc__, "hf2uer")
    run_hf_to_uer(spec, parser.parse_args())


if __name__ == "__main__":
    main()
