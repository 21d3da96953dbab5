"""Convert UER GPT-2 checkpoints: UER -> Hugging Face (prints a key report; --check compares outputs)."""
from uer.conversion.cli import conversion_parser, run_uer_to_hf
from uer.conversion.tables import GPT2
from uer.utils.errors import cli_main


@cli_main
def main() -> None:
    parser = conversion_parser(__doc__, "uer2hf")
    run_uer_to_hf(GPT2, parser.parse_args())


if __name__ == "__main__":
    main()
