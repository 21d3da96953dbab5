r"""Convert Chinese RoBERTa extractive QA: UER -> Hugging Face (BertForQuestionAnswering <-> run_cmrc.py's head).

Prints a key report (mapped, absent, dropped) and, with --check (default when transformers and the
config are there), the max abs difference of both models' outputs on the same input.

    python scripts/convert_roberta_extractive_qa_from_uer_to_huggingface.py \
        --input_model_path models/uer_model.bin --output_model_path hf_model_folder

The original UER-py name of convert_bert_extractive_qa_* (Chinese RoBERTa checkpoints are BERT
models): qa_outputs [2 x H] = UER output_layer [2 x H].
"""
from uer.conversion.cli import conversion_parser, run_uer_to_hf
from uer.conversion.specs import SPECS
from uer.utils.errors import cli_main


@cli_main
def main() -> None:
    spec = SPECS["bert_extractive_qa"]
    parser = conversion_parser(__doc__, "uer2hf")
    run_uer_to_hf(spec, parser.parse_args())


if __name__ == "__main__":
    main()
