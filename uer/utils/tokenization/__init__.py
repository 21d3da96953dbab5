"""Building blocks of the tokenizers in :mod:`uer.utils.tokenizers` (import tokenizers from there)."""
