"""Convert UER BERT checkpoints: UER -> Hugging Face (prints a key report; --check compares outputs)."""
from uer.conversion.cli import conversion_parser, run_uer_to_hf
from uer.conversion.tables import BERT
from uer.utils.errors import cli_main


@cli_main
def main() -> None:
    parser = conversion_parser(__doc__, "uer2hf", targets=["bert", "mlm"])
    run_uer_to_hf(BERT, parser.parse_args())


if __name__ == "__main__":
    main()
