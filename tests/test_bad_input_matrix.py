"""The bad-input matrix: every entry point fed each relevant bad input stops with exit status 2, one
``error: <file>[:<line>]: <what was expected>`` line, no traceback, and no output file left behind.

Entry points run in this process through their ``main`` (``cli_main`` turns a UserInputError into
the message and ``SystemExit(2)``; any other exception fails the test, so a traceback the user
would see shows up here). ``test_process_level_contract`` runs a representative subset as real
processes to prove the same contract at the process boundary.

A case is ``(entry point, bad input)``: ``build(w, tmp)`` returns the argv, the fragments the message
must hold and the outputs that must not exist; ``w`` is the module's world of good files and models.
"""
import json
import os
import pathlib
import random
import shutil
import subprocess
import sys
from dataclasses import dataclass
from typing import Callable, List, Sequence, Tuple

import pytest
import torch

from tests.conftest import REPO, load_script
from tests.finetune_fixtures import LABEL2ID, TINY, write_classification, write_ner
from uer.model_builder import build_model, model_args, with_vocab
from uer.model_saver import save_model
from uer.models.classifier import Classifier
from uer.models.mrc import MachineReadingComprehension
from uer.models.multiple_choice import MultipleChoice
from uer.models.tagger import Tagger

pytestmark = pytest.mark.usefixtures("one_thread")

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[unused1]"]
CHARS = "abcdefghijklmnopqrstuvwxyz甲乙丙丁戊己庚辛壬癸，。0123456789"
BAD_BYTES = b"\xff\xfe\xfa"


# ----------------------------------------------------------------------------------------- the world

class World:
    """Good inputs of every entry point (built once per module), and the bad ones derived from them."""

    def __init__(self, root):
        self.root = root
        self.tokens = SPECIALS + list(CHARS)
        self.vocab = self.text("vocab.txt", "\n".join(self.tokens) + "\n")
        self.config = self.text("tiny_config.json", json.dumps(TINY))
        self.rng = random.Random(0)
        self.corpus_lines = self.text("lines.txt", "".join(self.words(5, 30) + "\n" for _ in range(40)))
        self.corpus_docs = self.text("docs.txt", "\n\n".join(
            "\n".join(self.words(5, 20) for _ in range(3)) for _ in range(10)) + "\n")
        self.corpus_cls = self.text("cls_corpus.txt", "".join(f"{i % 2}\t{self.words(4, 20)}\n" for i in range(30)))
        self.build_datasets()
        self.build_task_files()
        self.build_models()

    def text(self, name: str, content: str) -> str:
        path = os.path.join(self.root, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(content)
        return path

    def words(self, low: int, high: int) -> str:
        return "".join(self.rng.choice("abcdefghijklmnop") for _ in range(self.rng.randint(low, high)))

    def build_datasets(self) -> None:
        self.dataset = {}
        for target, corpus in (("mlm", self.corpus_lines), ("bert", self.corpus_docs), ("cls", self.corpus_cls)):
            self.dataset[target] = os.path.join(self.root, f"{target}.dataset")
            call("preprocess.py", ["--corpus_path", corpus, "--vocab_path", self.vocab, "--dataset_path",
                                   self.dataset[target], "--target", target, "--tokenizer", "char", "--seq_length",
                                   "32", "--no_progress", "--dynamic_masking"])

    def build_task_files(self) -> None:
        from tests.test_run_cmrc import synthetic as synthetic_cmrc
        from tests.test_run_mt_classifier_dbqa import write_dbqa
        from tests.test_run_multiple_choice import synthetic_c3, synthetic_chid

        root = pathlib.Path(self.root)
        self.cls_train, self.cls_dev = str(root / "train.tsv"), str(root / "dev.tsv")
        write_classification(self.cls_train, 40, 1)
        write_classification(self.cls_dev, 10, 2)
        self.cls_test = str(root / "test_nolabel.tsv")
        write_classification(self.cls_test, 10, 3, with_labels=False)
        os.makedirs(root / "mt", exist_ok=True)
        shutil.copy(self.cls_train, root / "mt" / "train.tsv")
        shutil.copy(self.cls_dev, root / "mt" / "dev.tsv")
        self.mt_folder = str(root / "mt")
        self.ner_train, self.ner_dev, self.ner_test = (str(root / f"ner_{n}.tsv") for n in ("train", "dev", "test"))
        write_ner(self.ner_train, 30, 1)
        write_ner(self.ner_dev, 10, 2)
        write_ner(self.ner_test, 10, 3, with_labels=False)
        self.label2id = self.text("label2id.json", json.dumps(LABEL2ID))
        self.dbqa_train, self.dbqa_dev = str(root / "dbqa_train.tsv"), str(root / "dbqa_dev.tsv")
        write_dbqa(self.dbqa_train, 8, 1)
        write_dbqa(self.dbqa_dev, 3, 2)
        self.cmrc_train, self.cmrc_dev = root / "cmrc_train.json", root / "cmrc_dev.json"
        synthetic_cmrc(self.cmrc_train, 8, 1, "T")
        synthetic_cmrc(self.cmrc_dev, 3, 2, "D")
        self.cmrc_train, self.cmrc_dev = str(self.cmrc_train), str(self.cmrc_dev)
        self.c3_train, self.c3_dev = root / "c3_train.json", root / "c3_dev.json"
        synthetic_c3(self.c3_train, 5, 1, max_choices=4)
        synthetic_c3(self.c3_dev, 2, 2, with_ids=True, max_choices=4)
        self.c3_train, self.c3_dev = str(self.c3_train), str(self.c3_dev)
        self.chid = {}
        for name, seed, first in (("train", 1, 0), ("dev", 2, 100)):
            data, answers = root / f"chid_{name}.json", root / f"chid_{name}_answer.json"
            synthetic_chid(data, answers, 6, seed, first_tag=first)
            self.chid[name], self.chid[name + "_answer"] = str(data), str(answers)
        self.lines = self.text("sentences.txt", "".join(self.words(3, 12) + "\n" for _ in range(4)))
        self.word_sentences = self.text("word_sentences.txt", "a\tabcab\nb\tbcdb\n")

    def save(self, name: str, model: torch.nn.Module, extra: dict, **options) -> str:
        args = with_vocab(model_args({**TINY, **options}), len(self.tokens))
        args.tokenizer = extra.pop("tokenizer", "char")
        path = os.path.join(self.root, name)
        save_model(model, path, args, extra={"format_version": 1, "tokenizer": args.tokenizer, **extra})
        return path

    def build_models(self) -> None:
        torch.manual_seed(0)
        size = len(self.tokens)
        self.bert = self.save("bert.bin", build_model(model_args({**TINY, "target": "bert"}), size), {}, target="bert")
        self.mlm = self.save("mlm.bin", build_model(model_args({**TINY, "target": "mlm"}), size), {}, target="mlm")
        gpt = {**TINY, "embedding": "word_pos", "mask": "causal", "target": "lm"}
        self.lm = self.save("lm.bin", build_model(model_args(gpt), size), {}, **gpt)
        s2s = {**TINY, "target": "seq2seq", "decoder": "transformer", "tgt_embedding": "word_pos_seg"}
        self.s2s = self.save("s2s.bin", build_model(model_args(s2s), size), {}, **s2s)
        args = model_args({**TINY, "pooling": "first"})
        self.cls = self.save("cls.bin", Classifier.from_args(args, size, 2),
                             {"labels_num": 2, "pooling": "first", "seq_length": 32})
        for k in range(2):
            self.save(f"cv-fold_{k}.bin", Classifier.from_args(args, size, 2),
                      {"labels_num": 2, "pooling": "first", "seq_length": 32, "folds_num": 2})
        self.cv = os.path.join(self.root, "cv.bin")
        self.ner = self.save("ner.bin", Tagger.from_args(args, size, len(LABEL2ID)),
                             {"label2id": LABEL2ID, "crf_target": False, "seq_length": 32})
        self.mrc = self.save("mrc.bin", MachineReadingComprehension.from_args(args, size),
                             {"seq_length": 48, "doc_stride": 16, "max_answer_length": 4, "n_best_size": 5})
        self.c3 = self.save("c3.bin", MultipleChoice.from_args(args, size),
                            {"max_choices_num": 4, "pooling": "first", "seq_length": 48})
        self.chid_model = self.save("chid.bin", MultipleChoice.from_args(args, size),
                                    {"max_choices_num": 5, "pooling": "first", "seq_length": 32})
        # Checkpoints that are not checkpoints, or not whole ones.
        self.not_a_model = self.text("not_a_model.bin", "this is a vocabulary, not weights\n")
        with open(self.bert, "rb") as handle:
            data = handle.read()
        self.truncated = os.path.join(self.root, "truncated.bin")
        with open(self.truncated, "wb") as handle:
            handle.write(data[: len(data) // 2])
        from safetensors.torch import save_file

        self.truncated_safetensors = os.path.join(self.root, "truncated.safetensors")
        save_file({"embedding.word_embedding.weight": torch.zeros(size, 32)}, self.truncated_safetensors)
        with open(self.truncated_safetensors, "r+b") as handle:
            handle.truncate(os.path.getsize(self.truncated_safetensors) // 2)
        self.not_state_dict = os.path.join(self.root, "list.bin")
        torch.save([1, 2, 3], self.not_state_dict)
        self.evil = os.path.join(self.root, "evil.bin")
        self.evil_marker = os.path.join(self.root, "code_ran")
        torch.save({"embedding.word_embedding.weight": torch.zeros(size, 32), "x": RunsCode(self.evil_marker)},
                   self.evil)


class RunsCode:
    """Unpickling this calls ``open(marker, "w")``: a stand-in for a checkpoint that runs code."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield World(str(tmp_path_factory.mktemp("world")))
    torch.set_num_threads(threads)


# ------------------------------------------------------------------------------------ running scripts

def call(relative: str, argv: Sequence[str]) -> None:
    """``python <relative> argv`` in this process: ``main(argv)``, or ``main()`` with ``sys.argv`` set
    (the conversion scripts read ``sys.argv`` themselves)."""
    import inspect
    import logging

    argv = [str(a) for a in argv]
    root = logging.getLogger()
    handlers, level, saved_argv = list(root.handlers), root.level, sys.argv
    sys.argv = [os.path.join(REPO, relative)] + argv
    try:
        main = load_script(relative).main
        main(argv) if inspect.signature(main).parameters else main()
    finally:
        sys.argv = saved_argv
        root.handlers[:] = handlers
        root.setLevel(level)


# ------------------------------------------------------------------------------------------- bad files

def bad_copy(good: str, tmp: str, kind: str, line: int = 2) -> Tuple[str, List[str]]:
    """A bad variant of ``good`` in ``tmp``: (its path, fragments the error message must hold)."""
    name = os.path.basename(good)
    path = os.path.join(tmp, "bad_" + name)
    if kind == "missing":
        return os.path.join(tmp, "missing_" + name), ["missing_" + name, "not found"]
    if kind == "empty":
        open(path, "wb").close()
        return path, [path, ("empty", "no word", "no line")]
    if kind == "utf8":
        with open(good, "rb") as handle:
            lines = handle.read().split(b"\n")
        lines[line - 1] = lines[line - 1][:2] + BAD_BYTES + lines[line - 1][2:]
        with open(path, "wb") as handle:
            handle.write(b"\n".join(lines))
        return path, [f"{path}:{line}:", "UTF-8"]
    raise ValueError(kind)


def write_bad(tmp: str, name: str, content) -> str:
    path = os.path.join(tmp, name)
    mode = "wb" if isinstance(content, bytes) else "w"
    with open(path, mode, **({} if mode == "wb" else {"encoding": "utf-8"})) as handle:
        handle.write(content)
    return path


def replace(argv: List[str], flag: str, *values: str) -> List[str]:
    """``argv`` with ``flag``'s value(s) replaced (or the flag appended)."""
    argv = list(argv)
    if flag in argv:
        index = argv.index(flag)
        end = index + 1
        while end < len(argv) and not str(argv[end]).startswith("--"):
            end += 1
        argv[index + 1:end] = list(values)
    else:
        argv += [flag, *values]
    return argv


# ------------------------------------------------------------------------ good command lines per script

def out(tmp: str, name: str) -> str:
    return os.path.join(tmp, name)


TRAIN_FLAGS = ["--epochs_num", "1", "--batch_size", "8", "--device", "cpu", "--seq_length", "32"]


def good_argv(script: str, w: World, tmp: str) -> Tuple[List[str], List[str]]:
    """(argv that succeeds, the outputs it would write) of ``script``."""
    model_out = out(tmp, "model.bin")
    common = ["--vocab_path", w.vocab, "--config_path", w.config]
    if script == "preprocess.py":
        dataset = out(tmp, "dataset.pt")
        return (["--corpus_path", w.corpus_lines, "--vocab_path", w.vocab, "--dataset_path", dataset, "--target",
                 "mlm", "--tokenizer", "char", "--seq_length", "32", "--no_progress"], [dataset])
    if script == "pretrain.py":
        return (common + ["--dataset_path", w.dataset["mlm"], "--target", "mlm", "--output_model_path", model_out,
                          "--total_steps", "1", "--batch_size", "4", "--device", "cpu"],
                [model_out + "-1", model_out + "-1.state"])
    if script == "run_classifier.py":
        return (common + ["--tokenizer", "char", "--train_path", w.cls_train, "--dev_path", w.cls_dev,
                          "--output_model_path", model_out, *TRAIN_FLAGS], [model_out])
    if script == "run_classifier_cv.py":
        features = out(tmp, "features.npy")
        return (common + ["--tokenizer", "char", "--train_path", w.cls_train, "--train_features_path", features,
                          "--output_model_path", model_out, "--folds_num", "2", *TRAIN_FLAGS],
                [features, out(tmp, "model-fold_0.bin")])
    if script == "run_mt_classifier.py":
        return (common + ["--tokenizer", "char", "--dataset_path_list", w.mt_folder, "--output_model_path", model_out,
                          *TRAIN_FLAGS], [model_out])
    if script == "run_ner.py":
        return (common + ["--train_path", w.ner_train, "--dev_path", w.ner_dev, "--label2id_path", w.label2id,
                          "--output_model_path", model_out, *TRAIN_FLAGS], [model_out])
    if script == "run_dbqa.py":
        return (common + ["--tokenizer", "char", "--train_path", w.dbqa_train, "--dev_path", w.dbqa_dev,
                          "--output_model_path", model_out, *TRAIN_FLAGS], [model_out])
    if script == "run_cmrc.py":
        return (common + ["--train_path", w.cmrc_train, "--dev_path", w.cmrc_dev, "--output_model_path", model_out,
                          *replace(TRAIN_FLAGS, "--seq_length", "48"), "--doc_stride", "16"], [model_out])
    if script == "run_c3.py":
        return (common + ["--tokenizer", "char", "--train_path", w.c3_train, "--dev_path", w.c3_dev,
                          "--output_model_path", model_out, *replace(TRAIN_FLAGS, "--seq_length", "48")], [model_out])
    if script == "run_chid.py":
        return (common + ["--train_path", w.chid["train"], "--train_answer_path", w.chid["train_answer"],
                          "--dev_path", w.chid["dev"], "--dev_answer_path", w.chid["dev_answer"],
                          "--output_model_path", model_out, "--max_choices_num", "5", *TRAIN_FLAGS], [model_out])
    prediction = out(tmp, "prediction.txt")
    infer = ["--vocab_path", w.vocab, "--prediction_path", prediction, "--device", "cpu"]
    if script == "inference/run_classifier_infer.py":
        return infer + ["--load_model_path", w.cls, "--test_path", w.cls_test], [prediction]
    if script == "inference/run_classifier_infer_cv.py":
        features = out(tmp, "features.npy")
        return (["--vocab_path", w.vocab, "--load_model_path", w.cv, "--test_path", w.cls_test,
                 "--test_features_path", features, "--device", "cpu"], [features])
    if script == "inference/run_ner_infer.py":
        return infer + ["--load_model_path", w.ner, "--test_path", w.ner_test], [prediction]
    if script == "inference/run_cmrc_infer.py":
        return infer + ["--load_model_path", w.mrc, "--test_path", w.cmrc_dev], [prediction]
    if script == "inference/run_c3_infer.py":
        return infer + ["--load_model_path", w.c3, "--test_path", w.c3_dev], [prediction]
    if script == "inference/run_chid_infer.py":
        return infer + ["--load_model_path", w.chid_model, "--test_path", w.chid["dev"]], [prediction]
    tools = {
        "scripts/build_vocab.py": (["--corpus_path", w.corpus_lines, "--vocab_path", out(tmp, "new_vocab.txt"),
                                    "--tokenizer", "char"], [out(tmp, "new_vocab.txt")]),
        "scripts/diff_vocab.py": (["--vocab_1", w.vocab, "--vocab_2", w.vocab], []),
        "scripts/extract_features.py": (["--load_model_path", w.mlm, "--vocab_path", w.vocab, "--test_path", w.lines,
                                         "--prediction_path", prediction, "--seq_length", "32"], [prediction]),
        "scripts/extract_embeddings.py": (["--load_model_path", w.mlm, "--vocab_path", w.vocab,
                                           "--word_embedding_path", prediction], [prediction]),
        "scripts/average_models.py": (["--model_list_path", w.bert, w.bert, "--output_model_path", model_out],
                                      [model_out]),
        "scripts/check_model.py": (["--input_model_path", w.bert, "--vocab_path", w.vocab], []),
        "scripts/cloze_test.py": (["--load_model_path", w.mlm, "--vocab_path", w.vocab, "--test_path", w.lines,
                                   "--prediction_path", prediction, "--seq_length", "32"], [prediction]),
        "scripts/generate_lm.py": (["--load_model_path", w.lm, "--vocab_path", w.vocab, "--test_path", w.lines,
                                    "--prediction_path", prediction, "--seq_length", "20"], [prediction]),
        "scripts/generate_seq2seq.py": (["--load_model_path", w.s2s, "--vocab_path", w.vocab, "--test_path", w.lines,
                                         "--prediction_path", prediction, "--tgt_seq_length", "8", "--seq_length",
                                         "32"], [prediction]),
        "scripts/topn_words_indep.py": (["--load_model_path", w.mlm, "--vocab_path", w.vocab, "--test_path", w.lines,
                                         "--prediction_path", prediction], [prediction]),
        "scripts/topn_words_dep.py": (["--load_model_path", w.mlm, "--vocab_path", w.vocab, "--test_path",
                                       w.word_sentences, "--prediction_path", prediction, "--seq_length", "32"],
                                      [prediction]),
        "scripts/dynamic_vocab_adapter.py": (["--old_model_path", w.mlm, "--old_vocab_path", w.vocab,
                                              "--new_vocab_path", w.vocab, "--new_model_path", model_out],
                                             [model_out]),
        "scripts/multi_single_convert.py": (["--input_model_path", w.bert, "--output_model_path", model_out,
                                             "--add_module_prefix"], [model_out]),
    }
    return tools[script]


FINETUNE = ["run_classifier.py", "run_classifier_cv.py", "run_mt_classifier.py", "run_ner.py", "run_dbqa.py",
            "run_cmrc.py", "run_c3.py", "run_chid.py"]
INFERENCE = ["inference/run_classifier_infer.py", "inference/run_classifier_infer_cv.py",
             "inference/run_ner_infer.py", "inference/run_cmrc_infer.py", "inference/run_c3_infer.py",
             "inference/run_chid_infer.py"]
TOOLS = ["scripts/build_vocab.py", "scripts/diff_vocab.py", "scripts/extract_features.py",
         "scripts/extract_embeddings.py", "scripts/average_models.py", "scripts/check_model.py",
         "scripts/cloze_test.py", "scripts/generate_lm.py", "scripts/generate_seq2seq.py",
         "scripts/topn_words_indep.py", "scripts/topn_words_dep.py", "scripts/dynamic_vocab_adapter.py",
         "scripts/multi_single_convert.py"]
CONVERSIONS = sorted("scripts/" + name for name in os.listdir(os.path.join(REPO, "scripts"))
                     if name.startswith("convert_") and name.endswith(".py"))


# ------------------------------------------------------------------------------------------- the cases

@dataclass
class Case:
    script: str
    what: str
    build: Callable  # (w, tmp) -> (argv, fragments, outputs)
    code: int = 2

    @property
    def id(self) -> str:
        return f"{os.path.basename(self.script)[:-3]}:{self.what}"


CASES: List[Case] = []


def case(script: str, what: str, code: int = 2):
    def register(build):
        CASES.append(Case(script, what, build, code))
        return build
    return register


def file_case(script: str, flag: str, attr: Callable, kind: str, line: int = 2) -> None:
    """``flag`` of ``script`` given a missing, empty or non-UTF-8 variant of its good file."""
    def build(w, tmp):
        argv, outputs = good_argv(script, w, tmp)
        path, fragments = bad_copy(attr(w), tmp, kind, line)
        return replace(argv, flag, path), fragments, outputs
    CASES.append(Case(script, f"{flag[2:]} {kind}", build))


def content_case(script: str, flag: str, what: str, content, fragments: Sequence[str], name: str = "bad.txt",
                 extra: Sequence[str] = ()) -> None:
    """``flag`` of ``script`` given a file holding ``content``; ``{path}`` in a fragment is its path."""
    def build(w, tmp):
        argv, outputs = good_argv(script, w, tmp)
        text = content(w) if callable(content) else content
        path = write_bad(tmp, name, text)
        return (replace(argv, flag, path) + list(extra), [f.format(path=path) for f in fragments], outputs)
    CASES.append(Case(script, what, build))


def flags_case(script: str, what: str, change: Callable, fragments: Callable) -> None:
    """``script`` with its good argv changed by ``change(argv, w, tmp)``; ``fragments(w, tmp)``."""
    def build(w, tmp):
        argv, outputs = good_argv(script, w, tmp)
        return change(argv, w, tmp), fragments(w, tmp), outputs
    CASES.append(Case(script, what, build))


NO_SPECIALS = "a\nb\nc\n"
UNKNOWN_KEY = {**TINY, "hiden_size": 32}
MISTYPED = {**TINY, "layers_num": "two"}

# preprocess.py: the corpus, the vocabulary, corpora that do not fit the target
for kind in ("missing", "empty", "utf8"):
    file_case("preprocess.py", "--corpus_path", lambda w: w.corpus_lines, kind, line=3)
    file_case("preprocess.py", "--vocab_path", lambda w: w.vocab, kind, line=3)
content_case("preprocess.py", "--vocab_path", "vocab without special tokens", NO_SPECIALS, ["{path}", "[PAD]"])
flags_case("preprocess.py", "bert corpus without document breaks",
           lambda a, w, t: replace(replace(a, "--target", "bert"), "--corpus_path", w.corpus_lines),
           lambda w, t: [w.corpus_lines, "no blank line"])
flags_case("preprocess.py", "cls corpus without tab",
           lambda a, w, t: replace(replace(a, "--target", "cls"), "--corpus_path", w.corpus_lines),
           lambda w, t: [f"{w.corpus_lines}:1:", "label<TAB>text"])
flags_case("preprocess.py", "seq2seq corpus without tab",
           lambda a, w, t: replace(a, "--target", "seq2seq", "--tgt_seq_length", "16"),
           lambda w, t: [f"{w.corpus_lines}:1:", "tab"])
content_case("preprocess.py", "--corpus_path", "cls label not an integer", "1\tabc\npositive\tabd\n",
             ["{path}:2:", "'positive'"], extra=["--target", "cls"])

# pretrain.py: the dataset, the vocabulary, the config, the initial weights
for kind in ("missing", "empty"):
    file_case("pretrain.py", "--dataset_path", lambda w: w.dataset["mlm"], kind)
    file_case("pretrain.py", "--vocab_path", lambda w: w.vocab, kind)
    file_case("pretrain.py", "--config_path", lambda w: w.config, kind)
file_case("pretrain.py", "--vocab_path", lambda w: w.vocab, "utf8", line=3)
content_case("pretrain.py", "--dataset_path", "a text file as dataset", "hello\n", ["{path}", "preprocess.py"])
content_case("pretrain.py", "--vocab_path", "vocab without special tokens", NO_SPECIALS, ["{path}", "vocabulary of"])
content_case("pretrain.py", "--config_path", "config with an unknown key", json.dumps(UNKNOWN_KEY),
             ["{path}", "hiden_size", "hidden_size"], name="config.json")
content_case("pretrain.py", "--config_path", "config with a mistyped value", json.dumps(MISTYPED),
             ["{path}", "layers_num", '"two"'], name="config.json")
content_case("pretrain.py", "--config_path", "config malformed", '{"hidden_size": 32,\n oops}',
             ["{path}:2", "JSON"], name="config.json")
flags_case("pretrain.py", "dataset of another target", lambda a, w, t: replace(a, "--dataset_path", w.dataset["bert"]),
           lambda w, t: [w.dataset["bert"], "bert", "mlm"])
flags_case("pretrain.py", "seq_length beyond the position table",
           lambda a, w, t: replace(a, "--max_seq_length", "16"),
           lambda w, t: [w.dataset["mlm"], "max_seq_length 16", "--seq_length 16"])
for what, flags, words in (("checkpoint with more layers", ["--layers_num", "1"], ["encoder.transformer.1"]),
                           ("checkpoint with fewer layers", ["--layers_num", "3"], ["encoder.transformer.2"]),
                           ("checkpoint of another hidden size",
                            ["--hidden_size", "64", "--emb_size", "64", "--feedforward_size", "128"], ["shape"])):
    flags_case("pretrain.py", what, lambda a, w, t, flags=flags: a + ["--pretrained_model_path", w.bert, *flags],
               lambda w, t, words=words: [w.bert, *words])
flags_case("pretrain.py", "non-checkpoint as model", lambda a, w, t: a + ["--pretrained_model_path", w.not_a_model],
           lambda w, t: [w.not_a_model, "cannot read model weights"])
flags_case("pretrain.py", "truncated checkpoint", lambda a, w, t: a + ["--pretrained_model_path", w.truncated],
           lambda w, t: [w.truncated, "cannot read model weights"])
flags_case("pretrain.py", "missing checkpoint", lambda a, w, t: a + ["--pretrained_model_path", out(t, "nothing.bin")],
           lambda w, t: [out(t, "nothing.bin"), "not found"])

# Checkpoints that are not checkpoints: a pickle that would run code, truncated safetensors, a list
UNREADABLE = (("evil", "pickle that would run code", "refused to load"),
              ("truncated_safetensors", "truncated safetensors", "safetensors"),
              ("not_state_dict", "torch file that is not a state dict", "state dict"))
for script, flag in (("pretrain.py", "--pretrained_model_path"), ("run_classifier.py", "--pretrained_model_path"),
                     ("scripts/convert_bert_from_uer_to_huggingface.py", "--input_model_path"),
                     ("scripts/average_models.py", "--model_list_path"),
                     ("scripts/extract_embeddings.py", "--load_model_path")):
    for attr, what, words in UNREADABLE:
        def unreadable(w, tmp, script=script, flag=flag, attr=attr, words=words):
            if script.startswith("scripts/convert_"):
                argv, outputs = ["--output_model_path", out(tmp, "converted")], [out(tmp, "converted")]
            else:
                argv, outputs = good_argv(script, w, tmp)
            return replace(argv, flag, getattr(w, attr)), [getattr(w, attr), words], outputs
        CASES.append(Case(script, what, unreadable))

# The fine-tuning scripts: checkpoints, vocabularies and configs, shared by all of them
for script in FINETUNE:
    flags_case(script, "pretrained checkpoint truncated", lambda a, w, t: a + ["--pretrained_model_path", w.truncated],
               lambda w, t: [w.truncated, "cannot read model weights"])
    content_case(script, "--vocab_path", "vocab without special tokens", NO_SPECIALS, ["{path}", "[PAD]"])
file_case("run_classifier.py", "--vocab_path", lambda w: w.vocab, "missing")
for script in ("run_classifier.py", "run_ner.py", "run_cmrc.py"):
    flags_case(script, "non-checkpoint as model", lambda a, w, t: a + ["--pretrained_model_path", w.not_a_model],
               lambda w, t: [w.not_a_model, "cannot read model weights"])
    flags_case(script, "checkpoint with more layers",
               lambda a, w, t: a + ["--pretrained_model_path", w.bert, "--layers_num", "1"],
               lambda w, t: [w.bert, "encoder.transformer.1"])
    flags_case(script, "checkpoint with fewer layers",
               lambda a, w, t: a + ["--pretrained_model_path", w.bert, "--layers_num", "3"],
               lambda w, t: [w.bert, "encoder.transformer.2"])
    flags_case(script, "checkpoint of another hidden size",
               lambda a, w, t: a + ["--pretrained_model_path", w.bert, "--hidden_size", "64", "--emb_size", "64"],
               lambda w, t: [w.bert, "shape"])
    content_case(script, "--vocab_path", "vocab of another size", lambda w: "\n".join(w.tokens + ["extra"]) + "\n",
                 ["shape"], extra=["--pretrained_model_path", "{bert}"])
    flags_case(script, "seq_length beyond the position table", lambda a, w, t: a + ["--max_seq_length", "16"],
               lambda w, t: ["--seq_length", "16"])
    content_case(script, "--config_path", "config with an unknown key", json.dumps(UNKNOWN_KEY),
                 ["{path}", "hiden_size"], name="config.json")
    content_case(script, "--config_path", "config with a mistyped value", json.dumps(MISTYPED),
                 ["{path}", "layers_num"], name="config.json")

# run_classifier.py / run_classifier_cv.py / run_mt_classifier.py / run_dbqa.py: TSV files
for script, flag in (("run_classifier.py", "--train_path"), ("run_classifier.py", "--dev_path"),
                     ("run_classifier_cv.py", "--train_path"), ("run_dbqa.py", "--train_path")):
    good = (lambda w: w.dbqa_train) if script == "run_dbqa.py" else (
        (lambda w: w.cls_dev) if flag == "--dev_path" else (lambda w: w.cls_train))
    for kind in ("missing", "empty", "utf8"):
        file_case(script, flag, good, kind, line=3)
for script in ("run_classifier.py", "run_classifier_cv.py"):
    content_case(script, "--train_path", "TSV without text_a column", "label\ttext\n1\tabc\n",
                 ["{path}", "text_a"], name="train.tsv")
    content_case(script, "--train_path", "label not an integer", "label\ttext_a\n1\tabc\nx\tabd\n",
                 ["{path}:3:", "integer"], name="train.tsv")
content_case("run_classifier.py", "--dev_path", "label outside 0..labels_num-1", "label\ttext_a\n1\tabc\n7\tabd\n",
             ["{path}:3:", "0..1"], name="dev.tsv")
content_case("run_classifier.py", "--train_path", "negative label", "label\ttext_a\n1\tabc\n-1\tabd\n",
             ["{path}:3:"], name="train.tsv")
content_case("run_dbqa.py", "--train_path", "TSV without text_b column", "qid\tlabel\ttext_a\n0\t1\tabc\n",
             ["{path}", "text_b"], name="train.tsv")
content_case("run_dbqa.py", "--train_path", "label outside 0..1", "qid\ttext_a\ttext_b\tlabel\n0\tab\tcd\t3\n",
             ["{path}:2:", "0..1"], name="train.tsv")
flags_case("run_mt_classifier.py", "missing dataset folder",
           lambda a, w, t: replace(a, "--dataset_path_list", out(t, "nowhere")),
           lambda w, t: [os.path.join(out(t, "nowhere"), "train.tsv"), "not found"])


def mt_folder_without_text_a(argv, w, tmp):
    folder = out(tmp, "task")
    os.makedirs(folder)
    write_bad(folder, "train.tsv", "label\ttext\n1\tabc\n")
    shutil.copy(w.cls_dev, folder)
    return replace(argv, "--dataset_path_list", folder)


flags_case("run_mt_classifier.py", "TSV without text_a column", mt_folder_without_text_a,
           lambda w, t: [os.path.join(out(t, "task"), "train.tsv"), "text_a"])

# run_ner.py: tags, label maps
for kind in ("missing", "empty", "utf8"):
    file_case("run_ner.py", "--train_path", lambda w: w.ner_train, kind, line=3)
    file_case("run_ner.py", "--label2id_path", lambda w: w.label2id, kind, line=1)
content_case("run_ner.py", "--train_path", "token and tag counts differ", "text_a\tlabel\na b c\tO O\n",
             ["{path}:2:", "3", "2"], name="train.tsv")
content_case("run_ner.py", "--train_path", "unknown tag", "text_a\tlabel\na b\tO B-XYZ\n", ["{path}:2:", "B-XYZ"],
             name="train.tsv")
content_case("run_ner.py", "--train_path", "TSV without label column", "text_a\ttags\na b\tO O\n",
             ["{path}", "label"], name="train.tsv")
content_case("run_ner.py", "--label2id_path", "label map malformed", '{"O": 0,\n "B-PER" 1}', ["{path}:2"],
             name="label2id.json")
content_case("run_ner.py", "--label2id_path", "label ids not 0..n-1", '{"O": 0, "B-PER": 5}', ["{path}", "0..1"],
             name="label2id.json")

# run_cmrc.py / run_c3.py / run_chid.py: JSON files
for script, flag, good in (("run_cmrc.py", "--train_path", lambda w: w.cmrc_train),
                           ("run_c3.py", "--train_path", lambda w: w.c3_train),
                           ("run_chid.py", "--train_path", lambda w: w.chid["train"]),
                           ("run_chid.py", "--train_answer_path", lambda w: w.chid["train_answer"])):
    for kind in ("missing", "empty", "utf8"):
        file_case(script, flag, good, kind, line=2)
content_case("run_cmrc.py", "--train_path", "malformed JSON", '{"data": [\n {"paragraphs": [}\n]}',
             ["{path}:2", "JSON"], name="train.json")
content_case("run_cmrc.py", "--train_path", "question without answers",
             json.dumps({"data": [{"paragraphs": [{"context": "abc", "qas": [{"id": "q", "question": "a"}]}]}]},
                        indent=1), ["{path}:", "answers"], name="train.json")
content_case("run_c3.py", "--train_path", "malformed JSON", '[\n [["abc"], [{"question": "a",]]\n]',
             ["{path}:2", "JSON"], name="train.json")
content_case("run_c3.py", "--train_path", "answer not among the choices",
             json.dumps([[["abc"], [{"question": "a", "choice": ["b", "c"], "answer": "d"}], "x"]], indent=1),
             ["{path}:", "answer"], name="train.json")
content_case("run_chid.py", "--train_path", "malformed JSON line",
             lambda w: open(w.chid["train"], encoding="utf-8").read().replace("}", "", 1),
             ["{path}:1", "JSON"], name="train.json")
content_case("run_chid.py", "--train_answer_path", "answer index not an integer", '{"#idiom000000#": "x"}',
             ["{path}", "#idiom000000#"], name="answer.json")

# inference/*.py: test files and the fine-tuned model


def truncated_model(argv, w, tmp):
    """The fine-tuned model of ``argv`` cut in half (its sidecar intact) in ``tmp``."""
    good = argv[argv.index("--load_model_path") + 1]
    cv = not os.path.exists(good)
    source, target = (good[:-4] + "-fold_0.bin", out(tmp, "model-fold_0.bin")) if cv else (good, out(tmp, "model.bin"))
    with open(source, "rb") as handle:
        data = handle.read()
    with open(target, "wb") as handle:
        handle.write(data[: len(data) // 2])
    shutil.copy(source + ".config.json", target + ".config.json")
    return replace(argv, "--load_model_path", out(tmp, "model.bin"))


for script in INFERENCE:
    flags_case(script, "model missing", lambda a, w, t: replace(a, "--load_model_path", out(t, "nothing.bin")),
               lambda w, t: [out(t, "nothing"), "not found"])
    flags_case(script, "model truncated", truncated_model, lambda w, t: [out(t, "model"), "cannot read model weights"])
for script, good in (("inference/run_classifier_infer.py", lambda w: w.cls_test),
                     ("inference/run_classifier_infer_cv.py", lambda w: w.cls_test),
                     ("inference/run_ner_infer.py", lambda w: w.ner_test),
                     ("inference/run_cmrc_infer.py", lambda w: w.cmrc_dev),
                     ("inference/run_c3_infer.py", lambda w: w.c3_dev),
                     ("inference/run_chid_infer.py", lambda w: w.chid["dev"])):
    for kind in ("missing", "empty", "utf8"):
        file_case(script, "--test_path", good, kind, line=2)
flags_case("inference/run_classifier_infer.py", "pre-trained model without a task head",
           lambda a, w, t: replace(a, "--load_model_path", w.bert, "--labels_num", "2", "--seq_length", "32",
                                   "--tokenizer", "char"),
           lambda w, t: [w.bert, "no trained task head"])
flags_case("inference/run_classifier_infer.py", "model of another task",
           lambda a, w, t: replace(a, "--load_model_path", w.ner, "--labels_num", "2"),
           lambda w, t: [w.ner, "task head"])
content_case("inference/run_classifier_infer.py", "--vocab_path", "vocab of another size",
             lambda w: "\n".join(w.tokens + ["extra"]) + "\n", ["shape"])
content_case("inference/run_classifier_infer.py", "--test_path", "TSV without text_a column", "text\nabc\n",
             ["{path}", "text_a"], name="test.tsv")
flags_case("inference/run_classifier_infer.py", "seq_length beyond the position table",
           lambda a, w, t: a + ["--seq_length", "100"], lambda w, t: ["--seq_length", "64"])
content_case("inference/run_ner_infer.py", "--test_path", "TSV without text_a column", "text\na b\n",
             ["{path}", "text_a"], name="test.tsv")
flags_case("inference/run_classifier_infer_cv.py", "a fold model missing",
           lambda a, w, t: a + ["--folds_num", "3"], lambda w, t: [os.path.join(w.root, "cv-fold_2.bin"), "not found"])
content_case("inference/run_cmrc_infer.py", "--test_path", "malformed JSON", '{"data": [\n {"paragraphs": [}\n]}',
             ["{path}:2", "JSON"], name="test.json")
content_case("inference/run_c3_infer.py", "--test_path", "malformed JSON", '[\n [["abc"], [{"question": "a",]]\n]',
             ["{path}:2", "JSON"], name="test.json")
content_case("inference/run_chid_infer.py", "--test_path", "malformed JSON line", '{"candidates": ["a"], \n',
             ["{path}:1", "JSON"], name="test.json")

# The conversion scripts
for script in CONVERSIONS:
    def missing_input(w, tmp):
        path = out(tmp, "nothing.bin")
        return ["--input_model_path", path, "--output_model_path", out(tmp, "converted")], [path], \
            [out(tmp, "converted")]
    CASES.append(Case(script, "input missing", missing_input))
for script in ("scripts/convert_bert_from_huggingface_to_uer.py", "scripts/convert_bert_from_uer_to_huggingface.py",
               "scripts/convert_gpt2_from_uer_to_huggingface.py", "scripts/convert_bert_from_uer_to_google.py"):
    for attr in ("not_a_model", "truncated"):
        def bad_input(w, tmp, attr=attr):
            path = getattr(w, attr)
            return ["--input_model_path", path, "--output_model_path", out(tmp, "converted")], [path], \
                [out(tmp, "converted"), out(tmp, "converted.config.json")]
        CASES.append(Case(script, f"input {attr.replace('_', ' ')}", bad_input))

# scripts/ tools that read files
for kind in ("missing", "empty", "utf8"):
    file_case("scripts/build_vocab.py", "--corpus_path", lambda w: w.corpus_lines, kind, line=3)
    file_case("scripts/diff_vocab.py", "--vocab_2", lambda w: w.vocab, kind, line=3)
    file_case("scripts/extract_features.py", "--test_path", lambda w: w.lines, kind, line=2)
    file_case("scripts/cloze_test.py", "--test_path", lambda w: w.lines, kind, line=2)
    file_case("scripts/generate_lm.py", "--test_path", lambda w: w.lines, kind, line=1)
    file_case("scripts/generate_seq2seq.py", "--test_path", lambda w: w.lines, kind, line=2)
    file_case("scripts/topn_words_indep.py", "--test_path", lambda w: w.lines, kind, line=2)
    file_case("scripts/topn_words_dep.py", "--test_path", lambda w: w.word_sentences, kind, line=2)
    file_case("scripts/dynamic_vocab_adapter.py", "--new_vocab_path", lambda w: w.vocab, kind, line=3)
    file_case("scripts/extract_embeddings.py", "--vocab_path", lambda w: w.vocab, kind, line=3)
TOOL_MODEL_FLAG = {"scripts/extract_features.py": "--load_model_path", "scripts/extract_embeddings.py":
                   "--load_model_path", "scripts/average_models.py": "--model_list_path",
                   "scripts/check_model.py": "--input_model_path", "scripts/cloze_test.py": "--load_model_path",
                   "scripts/generate_lm.py": "--load_model_path", "scripts/generate_seq2seq.py": "--load_model_path",
                   "scripts/topn_words_indep.py": "--load_model_path", "scripts/topn_words_dep.py":
                   "--load_model_path", "scripts/dynamic_vocab_adapter.py": "--old_model_path",
                   "scripts/multi_single_convert.py": "--input_model_path"}
for script, flag in TOOL_MODEL_FLAG.items():
    for attr in ("not_a_model", "truncated"):
        flags_case(script, f"model {attr.replace('_', ' ')}",
                   lambda a, w, t, flag=flag, attr=attr: replace(a, flag, getattr(w, attr)),
                   lambda w, t, attr=attr: [getattr(w, attr)])
    flags_case(script, "model missing", lambda a, w, t, flag=flag: replace(a, flag, out(t, "nothing.bin")),
               lambda w, t: [out(t, "nothing.bin"), "not found"])
for script in ("scripts/extract_features.py", "scripts/cloze_test.py", "scripts/topn_words_dep.py",
               "scripts/generate_lm.py", "scripts/extract_embeddings.py"):
    content_case(script, "--vocab_path", "vocab of another size", lambda w: "\n".join(w.tokens + ["extra"]) + "\n",
                 ["model"])
for script in ("scripts/extract_features.py", "scripts/cloze_test.py", "scripts/topn_words_dep.py",
               "scripts/generate_lm.py"):
    flags_case(script, "checkpoint with fewer layers", lambda a, w, t: a + ["--layers_num", "3"],
               lambda w, t: ["encoder.transformer.2"])
    flags_case(script, "checkpoint with more layers", lambda a, w, t: a + ["--layers_num", "1"],
               lambda w, t: ["encoder.transformer.1"])
# (extract_features, cloze_test and topn_words_dep cut their inputs at the position table instead:
# tests/test_faults.py::test_tools_cut_long_lines_at_the_position_table)
flags_case("scripts/generate_lm.py", "seq_length beyond the position table",
           lambda a, w, t: replace(a, "--seq_length", "100"), lambda w, t: ["--seq_length 100", "max_seq_length 64"])
content_case("scripts/dynamic_vocab_adapter.py", "--new_vocab_path", "vocab without special tokens", NO_SPECIALS,
             ["{path}", "[PAD]"])
content_case("scripts/cloze_test.py", "--vocab_path", "vocab without special tokens", NO_SPECIALS, ["{path}", "[MASK]"])
flags_case("scripts/average_models.py", "checkpoints of different architectures",
           lambda a, w, t: replace(a, "--model_list_path", w.bert, w.mlm), lambda w, t: ["differ"])


# ---------------------------------------------------------------------------------------------- tests

def _format(values: Sequence[str], w: World) -> List[str]:
    return [str(v).replace("{bert}", w.bert) for v in values]


@pytest.mark.parametrize("bad", CASES, ids=lambda c: c.id)
def test_bad_input(bad: Case, world: World, tmp_path, capsys):
    tmp = str(tmp_path)
    argv, fragments, outputs = bad.build(world, tmp)
    argv = _format(argv, world)
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        call(bad.script, argv)
    err = capsys.readouterr().err
    assert stop.value.code == bad.code, err
    messages = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(messages) == 1 and "Traceback" not in err, err
    for fragment in fragments:  # a tuple: any one of its words
        assert any(f in messages[0] for f in fragment) if isinstance(fragment, tuple) else fragment in messages[0], \
            (fragment, messages[0])
    assert not os.path.exists(world.evil_marker), "a checkpoint ran code while being loaded"
    left = [path for path in outputs if os.path.exists(path)]
    assert not left, f"partial outputs left behind: {left}"
    assert not [name for name in os.listdir(tmp) if ".tmp" in name], os.listdir(tmp)


ENTRY_POINTS = sorted({c.script for c in CASES})


def test_every_entry_point_is_in_the_matrix():
    expected = {"preprocess.py", "pretrain.py", *FINETUNE, *INFERENCE, *TOOLS, *CONVERSIONS}
    assert expected <= set(ENTRY_POINTS), sorted(expected - set(ENTRY_POINTS))


@pytest.mark.parametrize("script", ["preprocess.py", "pretrain.py", "run_classifier.py",
                                    "inference/run_classifier_infer.py", "scripts/build_vocab.py"])
def test_good_command_lines_succeed(script, world, tmp_path, capsys):
    """The matrix's good inputs work, so each failure above comes from the one bad input."""
    argv, outputs = good_argv(script, world, str(tmp_path))
    call(script, argv)
    assert all(os.path.exists(path) for path in outputs)


# ---------------------------------------------------------------------------- the process boundary

PROCESS_CASES = ["preprocess:cls corpus without tab", "pretrain:dataset of another target",
                 "run_classifier:label not an integer", "run_ner_infer:model truncated",
                 "convert_bert_from_huggingface_to_uer:input not a model"]


@pytest.mark.parametrize("name", PROCESS_CASES)
def test_process_level_contract(name, world, tmp_path):
    bad = next(c for c in CASES if c.id == name)
    argv, fragments, outputs = bad.build(world, str(tmp_path))
    done = subprocess.run([sys.executable, os.path.join(REPO, bad.script), *_format(argv, world)],
                          capture_output=True, text=True, cwd=str(tmp_path), timeout=120,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 2, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and all(f in errors[0] for f in fragments), done.stderr[-3000:]
    assert not any(os.path.exists(path) for path in outputs)
