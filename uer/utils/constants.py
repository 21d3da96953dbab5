"""Special tokens shared by vocabularies, tokenizers, datasets and targets."""
from typing import List

PAD_TOKEN = "[PAD]"
UNK_TOKEN = "[UNK]"
CLS_TOKEN = "[CLS]"
SEP_TOKEN = "[SEP]"
MASK_TOKEN = "[MASK]"

# Padding is id 0 everywhere (``seg > 0`` marks real tokens), so a vocabulary must put [PAD] first.
PAD_ID = 0

# The order of Google BERT vocabularies; a fresh vocabulary starts with these 5 ids.
# A list so that ``SPECIAL_TOKENS + list(chars)`` builds a test vocabulary; do not mutate it.
SPECIAL_TOKENS: List[str] = [PAD_TOKEN, UNK_TOKEN, CLS_TOKEN, SEP_TOKEN, MASK_TOKEN]
