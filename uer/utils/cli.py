"""The one argument parser builder of every script, so that ``-h`` reads the same everywhere."""
import argparse
import copy


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Keeps the description's own layout (usage examples) and ends each option's help with its
    default, options without a help text included (argparse's formatter skips those). Defaults that
    say nothing (None, an unset flag) are left out, and so is a default the help already states."""

    def _format_action(self, action: argparse.Action) -> str:
        if action.help is None and action.option_strings and shows_default(action):
            action = copy.copy(action)
            action.help = "(default: %(default)s)"
        return super()._format_action(action)

    def _get_help_string(self, action: argparse.Action) -> str:
        help_text = action.help or ""
        if "%(default)" in help_text or "default" in help_text.lower() or not shows_default(action):
            return help_text
        return super()._get_help_string(action)


def shows_default(action: argparse.Action) -> bool:
    """Whether ``-h`` states the action's default."""
    return bool(action.option_strings) and action.default not in (None, False, argparse.SUPPRESS) \
        and action.help is not argparse.SUPPRESS


def script_parser(description: str) -> argparse.ArgumentParser:
    """An empty parser for a script whose module docstring is ``description``."""
    return argparse.ArgumentParser(description=description, formatter_class=HelpFormatter)
