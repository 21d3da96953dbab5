"""The tokenizer files of a Hugging Face folder, both ways.

Export (``write_tokenizer``): a folder written by a UER -> Hugging Face converter gets the files
``AutoTokenizer.from_pretrained`` reads, so the exported model tokenizes as it was trained:

- a WordPiece ``vocab.txt`` (any architecture; UER-py's Chinese GPT-2, RoBERTa and T5 models on
  the hub are read with ``BertTokenizer`` too): ``vocab.txt`` + ``tokenizer_config.json``
  (``BertTokenizer``, lower-casing when the vocabulary has no upper-case ASCII letter) +
  ``special_tokens_map.json``;
- a SentencePiece model: ``spiece.model`` (``AlbertTokenizer``, or ``T5Tokenizer`` for T5);
- byte-level BPE (GPT-2, RoBERTa): ``vocab.json`` + ``merges.txt``.

Import (``folder_vocabulary``): which of those files a folder holds, as UER tokenizer options.
"""
import json
import os
import re
import shutil
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from uer.model_saver import atomic_write
from uer.utils.constants import CLS_TOKEN, MASK_TOKEN, PAD_TOKEN, SEP_TOKEN, UNK_TOKEN
from uer.utils.errors import UserInputError

BERT_SPECIALS = {"unk_token": UNK_TOKEN, "sep_token": SEP_TOKEN, "pad_token": PAD_TOKEN, "cls_token": CLS_TOKEN,
                 "mask_token": MASK_TOKEN}
BPE_SPECIALS = {
    "gpt2": {"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>"},
    "roberta": {"bos_token": "<s>", "eos_token": "</s>", "sep_token": "</s>", "cls_token": "<s>",
                "unk_token": "<unk>", "pad_token": "<pad>", "mask_token": "<mask>"},
}
BPE_CLASSES = {"gpt2": "GPT2Tokenizer", "roberta": "RobertaTokenizer"}
SPM_FILE = "spiece.model"
# Special tokens written as [NAME] or <name> are not words: their case says nothing about the text.
_SPECIAL = re.compile(r"^(\[[^\]]*\]|<[^>]*>)$")


@dataclass(frozen=True)
class TokenizerFiles:
    """Where the vocabulary of a model lives: ``kind`` is ``wordpiece``, ``sentencepiece`` or ``bpe``."""

    kind: str
    path: str  # vocab.txt, the .model file or vocab.json
    merges_path: Optional[str] = None

    @property
    def size(self) -> int:
        """Tokens (ids) of the vocabulary, counted as Hugging Face's tokenizer will."""
        if self.kind == "wordpiece":
            return len(_wordpiece_tokens(self.path))
        if self.kind == "bpe":
            return len(_read_json_vocab(self.path))
        from uer.tokenizers.spm import load_spm

        return load_spm(self.path).get_piece_size()


def _wordpiece_tokens(path: str) -> List[str]:
    from uer.tokenizers.vocab import Vocab

    return Vocab.load(path).i2w


def _read_json_vocab(path: str) -> Dict[str, int]:
    if not os.path.isfile(path):
        raise UserInputError("vocabulary file not found", path=path)
    try:
        with open(path, encoding="utf-8") as handle:
            vocab = json.load(handle)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UserInputError(f"not a BPE vocab.json (a JSON object of token: id): {error}", path=path) from None
    if not isinstance(vocab, dict):
        raise UserInputError("not a BPE vocab.json: expected a JSON object of token: id", path=path)
    return vocab


def tokenizer_files(vocab_path: Optional[str], spm_model_path: Optional[str],
                    merges_path: Optional[str]) -> Optional[TokenizerFiles]:
    """The vocabulary named by the flags (``--spm_model_path`` wins, as in the other scripts);
    a ``.json`` vocabulary is byte-level BPE and needs its ``merges.txt``."""
    if spm_model_path:
        return TokenizerFiles("sentencepiece", spm_model_path)
    if merges_path or (vocab_path and vocab_path.endswith(".json")):
        if not (vocab_path and merges_path):
            raise UserInputError("a byte-level BPE tokenizer needs both --vocab_path vocab.json and "
                                 "--merges_path merges.txt")
        if not os.path.isfile(merges_path):
            raise UserInputError("merges file not found", path=merges_path)
        return TokenizerFiles("bpe", vocab_path, merges_path)
    return TokenizerFiles("wordpiece", vocab_path) if vocab_path else None


def lower_cased(tokens: List[str]) -> bool:
    """True when no word of the vocabulary has an upper-case ASCII letter (an uncased model)."""
    return not any(re.search("[A-Z]", token) and not _SPECIAL.match(token) for token in tokens)


def check_vocabulary(files: TokenizerFiles, vocab_size: Optional[int], model_type: str) -> None:
    """Before anything is written: the files must suit the architecture and have exactly one id per
    row of the model's embedding."""
    if files.kind == "bpe" and model_type not in BPE_CLASSES:
        raise UserInputError(f"byte-level BPE files go with GPT-2 or RoBERTa models, not {model_type}",
                             path=files.path)
    size = files.size
    if vocab_size is not None and size != vocab_size:
        raise UserInputError(f"the vocabulary has {size} tokens but the model's word embedding has {vocab_size} "
                             f"rows: give the vocabulary the model was trained with", path=files.path)


def _write_json(path: str, data: Dict[str, Any]) -> None:
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"

    def write(temp: str) -> None:
        with open(temp, "w", encoding="utf-8") as handle:
            handle.write(text)

    atomic_write(path, write)


def _copy(source: str, destination: str) -> None:
    atomic_write(destination, lambda temp: shutil.copyfile(source, temp))


def write_tokenizer(folder: str, files: TokenizerFiles, model_type: str, max_length: Optional[int]) -> str:
    """Write the tokenizer files of ``files`` into ``folder``; returns a one-line description.

    ``model_type`` is the exported config's (``bert``, ``roberta``, ``albert``, ``gpt2``, ``t5``, ``mt5``);
    ``check_vocabulary`` has accepted ``files`` for it.
    """
    config: Dict[str, Any] = {}
    if files.kind == "wordpiece":
        lower = lower_cased(_wordpiece_tokens(files.path))
        _copy(files.path, os.path.join(folder, "vocab.txt"))
        specials = dict(BERT_SPECIALS)
        config = {"tokenizer_class": "BertTokenizer", "do_lower_case": lower, "tokenize_chinese_chars": True,
                  "strip_accents": None}
        written, what = ["vocab.txt"], f"BertTokenizer, do_lower_case {str(lower).lower()}"
    elif files.kind == "sentencepiece":
        _copy(files.path, os.path.join(folder, SPM_FILE))
        t5 = model_type in ("t5", "mt5")
        tokens = _spm_pieces(files.path)
        specials = {name: token for name, token in BERT_SPECIALS.items() if token in tokens}
        if t5:  # T5Tokenizer ends every text with its eos token: one the vocabulary has, not a new id
            specials["eos_token"] = "</s>" if "</s>" in tokens else SEP_TOKEN
        # UER feeds SentencePiece the text as it is: no lower-casing, accents kept, no extra ids.
        config = {"tokenizer_class": "T5Tokenizer", "extra_ids": 0} if t5 else \
            {"tokenizer_class": "AlbertTokenizer", "do_lower_case": False, "keep_accents": True}
        written, what = [SPM_FILE], config["tokenizer_class"]
    else:
        _copy(files.path, os.path.join(folder, "vocab.json"))
        _copy(files.merges_path, os.path.join(folder, "merges.txt"))
        specials = BPE_SPECIALS[model_type]
        config = {"tokenizer_class": BPE_CLASSES[model_type], "add_prefix_space": False}
        written, what = ["vocab.json", "merges.txt"], BPE_CLASSES[model_type]
    config.update(specials)
    if max_length:
        config["model_max_length"] = max_length
    _write_json(os.path.join(folder, "tokenizer_config.json"), config)
    _write_json(os.path.join(folder, "special_tokens_map.json"), specials)
    return f"{', '.join(written + ['tokenizer_config.json', 'special_tokens_map.json'])} ({what})"


def _spm_pieces(path: str) -> List[str]:
    from uer.tokenizers.spm import load_spm

    model = load_spm(path)
    return [model.id_to_piece(i) for i in range(model.get_piece_size())]


def folder_vocabulary(folder: str) -> Dict[str, Any]:
    """UER tokenizer options for the tokenizer files of a Hugging Face folder ({} when none).

    ``vocab.txt`` -> ``vocab_path`` (+ ``do_lower_case`` from ``tokenizer_config.json`` when it says);
    a SentencePiece model -> ``spm_model_path``; ``vocab.json`` + ``merges.txt`` -> the ``bpe``
    tokenizer when this installation has one.
    """
    def path(name: str) -> Optional[str]:
        candidate = os.path.join(folder, name)
        return candidate if os.path.isfile(candidate) else None

    config_file = path("tokenizer_config.json")
    config: Dict[str, Any] = {}
    if config_file:
        try:
            with open(config_file, encoding="utf-8") as handle:
                config = json.load(handle)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise UserInputError(f"invalid JSON ({error})", path=config_file) from None
    if path("vocab.txt"):
        options: Dict[str, Any] = {"vocab_path": path("vocab.txt"), "tokenizer": "bert"}
        if isinstance(config.get("do_lower_case"), bool):
            options["do_lower_case"] = config["do_lower_case"]
        return options
    spm = next((path(name) for name in (SPM_FILE, "sentencepiece.bpe.model", "spm.model") if path(name)), None)
    if spm:
        return {"spm_model_path": spm}
    if path("vocab.json") and path("merges.txt"):
        from uer.tokenizers import TOKENIZERS

        if "bpe" in TOKENIZERS.names():
            return {"tokenizer": "bpe", "vocab_path": path("vocab.json"), "merges_path": path("merges.txt")}
    return {}
