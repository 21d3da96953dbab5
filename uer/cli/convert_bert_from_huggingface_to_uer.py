"""Convert Hugging Face BERT checkpoints: Hugging Face -> UER (prints a key report; --check compares outputs)."""
from uer.conversion.cli import conversion_parser, run_hf_to_uer
from uer.conversion.tables import BERT
from uer.utils.errors import cli_main


@cli_main
def main() -> None:
    parser = conversion_parser(__doc__, "hf2uer", targets=["bert", "mlm"])
    run_hf_to_uer(BERT, parser.parse_args())


if __name__ == "__main__":
    main()
