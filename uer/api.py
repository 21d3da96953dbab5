"""Python API: ``uer.load(path)`` gives a model ready for predictions with its tokenizer.

    import uer
    model = uer.load("models/classifier.bin", vocab_path="models/google_zh_vocab.txt")
    model.classify(["这本书很好看"])  # [{"label": 1, "probabilities": [0.1, 0.9]}]

Options resolve as in the scripts (``uer.utils.config.parse_args``): defaults < the checkpoint's
sidecar ``<path>.config.json`` < ``config`` (a JSON preset, for UER-py checkpoints without a sidecar)
< keyword options (any flag of the inference scripts without ``--``: ``seq_length=64``,
``tokenizer="char"``). Checkpoints are read through the same loaders as the scripts, and every
method computes what its script computes, on length-sorted batches: ``classify`` =
inference/run_classifier_infer.py, ``tag`` = inference/run_ner_infer.py, ``encode`` =
scripts/extract_features.py, ``fill_mask`` = scripts/cloze_test.py, ``generate`` =
scripts/generate_lm.py. Each task's model is built on first use and kept.
"""
import argparse
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn

from uer.finetune.checkpoint import load_for_inference as load_finetuned
from uer.finetune.checkpoint import read_sidecar
from uer.finetune.cloze import MLM_HEAD, fill_blanks, tokenize_keeping_masks
from uer.finetune.features import sentence_vectors
from uer.finetune.inputs import PairEncoder, check_seq_length, input_length, pair_dataset
from uer.finetune.metrics import extract_entities
from uer.finetune.options import precision_opts, tagging_opts
from uer.finetune.predict import predict, softmax
from uer.finetune.tagging import predict_tags, tagging_dataset
from uer.finetune.tsv import read_label2id
from uer.generation import LM_PARTS, Sampling, continue_prompt, lm_prompt
from uer.model_tools import load_for_inference, pick_device
from uer.models.classifier import Classifier
from uer.models.tagger import Tagger
from uer.opts import saved_model_opts
from uer.tokenizers import Tokenizer, build_tokenizer
from uer.training.runtime import DistContext
from uer.utils.cli import script_parser
from uer.utils.config import parse_args
from uer.utils.constants import MASK_TOKEN
from uer.utils.errors import UserInputError

# A blank's guesses: (token, probability), best first.
Guess = Tuple[str, float]


def api_parser() -> argparse.ArgumentParser:
    """The options ``load`` accepts: those of the inference scripts, without their file paths; a bad
    one raises UserInputError (a library does not exit)."""
    parser = script_parser(__doc__)
    parser.add_argument("--load_model_path", required=True)
    saved_model_opts(parser)
    tagging_opts(parser, label2id_required=False)
    precision_opts(parser)

    def error(message: str) -> None:
        raise UserInputError(f"uer.load: {message.replace('--', '')} (options are the scripts' flags without '--')")

    parser.error = error  # type: ignore[method-assign]
    return parser


def option_argv(parser: argparse.ArgumentParser, options: Dict[str, Any]) -> List[str]:
    """Keyword options as the flags a user would type: ``True``/``False`` of an on/off flag give the
    flag or nothing; ``None`` gives nothing; lists give several values."""
    switches = {action.dest for action in parser._actions if action.nargs == 0}
    argv: List[str] = []
    for key, value in options.items():
        if value is None or (key in switches and value is False):
            continue
        argv.append("--" + key)
        if isinstance(value, (list, tuple)):
            argv.extend(str(v) for v in value)
        elif key not in switches:
            argv.append(str(value))
    return argv


def load(path: str, config: Optional[str] = None, vocab_path: Optional[str] = None,
         device: Optional[str] = None, **options: Any) -> "Predictor":
    """A :class:`Predictor` for the checkpoint at ``path`` (with its sidecar, or UER-py's with
    ``config=`` a JSON preset and ``vocab_path=``). ``device``: ``"cpu"``, ``"cuda"``... (default:
    a GPU when there is one). Other options as the scripts' flags: ``merges_path=``,
    ``spm_model_path=``, ``tokenizer=``, ``seq_length=``, ``batch_size=``, ``pooling=``, ``bf16=True``."""
    parser = api_parser()
    argv = ["--load_model_path", path] + option_argv(
        parser, {"config_path": config, "vocab_path": vocab_path, **options})
    args = parse_args(parser, argv)
    return Predictor(args, build_tokenizer(args), torch.device(device) if device else pick_device())


class Predictor:
    """A checkpoint, its options (``args``) and its tokenizer, with one method per job."""

    def __init__(self, args: argparse.Namespace, tokenizer: Tokenizer, device: torch.device):
        self.args = args
        self.tokenizer = tokenizer
        self.device = device
        self.path: str = args.load_model_path
        self._ctx = DistContext(device=device)
        self._models: Dict[str, nn.Module] = {}

    def __repr__(self) -> str:
        return f"uer.Predictor({self.path!r}, {self.args.encoder} {self.args.target}, tokenizer={self.args.tokenizer})"

    def _model(self, kind: str, build: Callable[[], nn.Module]) -> nn.Module:
        if kind not in self._models:
            self._models[kind] = build().to(self.device).eval()
        return self._models[kind]

    def _vocab_size(self) -> int:
        return len(self.tokenizer.vocab)

    def classify(self, texts: Sequence[str], pairs: Optional[Sequence[str]] = None) -> List[Dict[str, Any]]:
        """``{"label": int, "probabilities": [p_0, ...]}`` per text (``pairs``: second texts of
        sentence-pair tasks) from a run_classifier.py model: run_classifier_infer.py's ``label``
        and ``prob`` columns."""
        args = self.args
        if not args.labels_num:
            raise UserInputError("not a classifier: the checkpoint's sidecar has no labels_num (give labels_num=)",
                                 path=self.path)
        check_seq_length(args.seq_length, args)

        model = self._model("classify", lambda: _loaded(Classifier.from_args(args, self._vocab_size(), args.labels_num),
                                                       self.path))
        data = pair_dataset(PairEncoder(self.tokenizer, args.seq_length), _texts(texts), pairs)
        logits = predict(model, data, args.batch_size, args, self._ctx)["logits"]
        return [{"label": int(row.argmax()), "probabilities": probs.tolist()}
                for row, probs in zip(logits, softmax(logits))]

    def tag(self, texts: Sequence[Union[str, Sequence[str]]]) -> List[Dict[str, Any]]:
        """``{"tokens", "tags", "entities"}`` per text from a run_ner.py model. A text is a list of
        tokens or, as in run_ner's files, a string of tokens separated by single spaces; an entity
        is ``{"type", "start", "end", "text"}`` (token positions, ``end`` excluded)."""
        args = self.args
        if args.label2id_path:
            label2id = read_label2id(args.label2id_path)
        else:
            label2id = read_sidecar(self.path).get("label2id")
            if not label2id:
                raise UserInputError("not a tagger: the checkpoint's sidecar has no label map (give label2id_path=)",
                                     path=self.path)
        check_seq_length(args.seq_length, args)
        id2label = sorted(label2id, key=label2id.get)
        model = self._model("tag", lambda: _loaded(Tagger.from_args(args, self._vocab_size(), len(label2id)),
                                                  self.path))
        sentences = [text.strip().split(" ") if isinstance(text, str) else list(text) for text in _texts(texts)]
        data = tagging_dataset(sentences, self.tokenizer, args.seq_length)
        results = []
        for tokens, tags in zip(sentences, predict_tags(model, data, id2label, args, self._ctx)):
            entities = [{"type": kind, "start": start, "end": end, "text": " ".join(tokens[start:end])}
                        for start, end, kind in sorted(extract_entities(tags))]
            results.append({"tokens": tokens, "tags": tags, "entities": entities})
        return results

    def encode(self, texts: Sequence[str], pooling: Optional[str] = None) -> torch.Tensor:
        """Sentence vectors [N x hidden_size] of ``[CLS] text [SEP]`` pooled by ``pooling``
        (``first``, ``mean``, ``max``, ``last``; default the checkpoint's): extract_features.py's."""
        args = self.args
        backbone = self._model("encode", lambda: load_for_inference(args, self._vocab_size(), self.path,
                                                                    backbone_only=True))
        data = pair_dataset(PairEncoder(self.tokenizer, input_length(args)), _texts(texts))
        return sentence_vectors(backbone, data, args.batch_size, pooling or args.pooling)

    def fill_mask(self, text: Union[str, Sequence[str]], topn: int = 10) -> List[Any]:
        """The ``topn`` guesses ``(token, probability)`` of each blank (``[MASK]``, or the vocabulary's
        own mask token such as ``<mask>``) of ``text``: a list per blank; for a list of texts, a list
        of those. A masked LM (``--target mlm``/``bert``/``albert``) is needed: cloze_test.py's guesses."""
        args = self.args
        model = self._model("fill_mask", lambda: load_for_inference(args, self._vocab_size(), self.path,
                                                                    required=MLM_HEAD))
        if not hasattr(model.target, "mlm_logits"):
            raise UserInputError(f"fill_mask needs a masked language model (target mlm, bert or albert), not "
                                 f"target {args.target}", path=self.path)
        limit = input_length(args) - 2
        examples = []
        for line in _texts([text] if isinstance(text, str) else text):
            tokens = tokenize_keeping_masks(self.tokenizer, line)
            blanks = [i for i, token in enumerate(tokens) if token == MASK_TOKEN]
            if not blanks:
                raise UserInputError(f"no {MASK_TOKEN} to fill in {line!r}")
            if blanks[-1] >= limit:
                raise UserInputError(f"a {MASK_TOKEN} is token {blanks[-1] + 1} of {line!r}, beyond the {limit} "
                                     f"tokens the sequence length leaves between [CLS] and [SEP]")
            examples.append((tokens[:limit], blanks))
        to_tokens = self.tokenizer.convert_ids_to_tokens
        filled = [[list(zip(to_tokens(ids), probs)) for ids, probs in blanks]
                  for blanks in fill_blanks(model, self.tokenizer, examples, args.batch_size, topn)]
        return filled[0] if isinstance(text, str) else filled

    def generate(self, prompt: str, max_length: Optional[int] = None, greedy: bool = False, top_k: int = 70,
                 top_p: float = 0.0, temperature: float = 1.0, seed: int = 7, use_cache: bool = True) -> str:
        """The prompt and its continuation as text, up to ``max_length`` tokens in all (default the
        sequence length), sampled as generate_lm.py does (``greedy`` or top-k / nucleus sampling)."""
        args = self.args
        length = max_length or args.seq_length
        if args.embedding in ("word_pos", "word_pos_seg", "word_sinusoidalpos") and length > args.max_seq_length:
            raise UserInputError(f"max_length {length} exceeds the model's max_seq_length {args.max_seq_length}")
        prefix_lm = args.mask == "causal_with_prefix"
        tokens = lm_prompt(self.tokenizer, prompt, prefix_lm)
        if len(tokens) >= length:
            raise UserInputError(f"the prompt is {len(tokens)} tokens long with [CLS]; max_length {length} leaves "
                                 f"no room to generate")
        model = self._model("generate", lambda: load_for_inference(args, self._vocab_size(), self.path,
                                                                   required=LM_PARTS))
        text, _ = continue_prompt(model, self.tokenizer, tokens, length, Sampling(top_k, top_p, temperature, greedy),
                                  args.tokenizer, use_cache=use_cache, seed=seed, prefix_lm=prefix_lm)
        return text


def _loaded(model: nn.Module, path: str) -> nn.Module:
    load_finetuned(model, path)
    return model


def _texts(texts: Any) -> List[Any]:
    """A list of inputs: a single string would otherwise be read as a list of characters."""
    if isinstance(texts, str):
        raise UserInputError("give a list of texts (a single string would be read as its characters)")
    texts = list(texts)
    if not texts:
        raise UserInputError("no texts given")
    return texts


__all__ = ["Predictor", "load"]
