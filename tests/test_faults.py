"""Faults: runs killed (SIGKILL) or interrupted (SIGINT) at a random step and resumed, preprocessing
killed mid-way, failing workers, checkpoints that would run code, and inputs far longer than the model.

The kill points are chosen at random (``UER_FAULT_SEED`` replays one choice; the seed is in every
failure message). Killed runs are real processes: a few lines of ``python -c`` patch the step (or
the file write) where the process kills itself, so the kill lands exactly there on any machine.
"""
import json
import os
import random
import signal
import subprocess
import sys
import time
from argparse import Namespace

import numpy as np
import pytest
import torch

import pretrain
from tests.conftest import REPO
from tests.finetune_fixtures import run_script, write_classification, write_common
from tests.test_data_helpers import lines_corpus, make_vocab, run_preprocess, write
from tests.test_pretrain import dataset_for, pretrain_args
from uer.data.format import DatasetFile
from uer.model_loader import load_state_dict_file
from uer.training.train_state import load_train_state
from uer.utils.errors import UserInputError

pytestmark = pytest.mark.usefixtures("one_thread")

SEED = int(os.environ.get("UER_FAULT_SEED", time.time_ns() % 100_000))
RNG = random.Random(SEED)
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", "")}


def run_python(code: str, *argv: str, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, *map(str, argv)], capture_output=True, text=True, cwd=REPO,
                          env=ENV, timeout=timeout)


def same_weights(expected_path: str, actual_path: str) -> None:
    expected, actual = load_state_dict_file(expected_path), load_state_dict_file(actual_path)
    assert expected.keys() == actual.keys()
    for key in expected:
        assert torch.equal(expected[key], actual[key]), f"{key} differs (UER_FAULT_SEED={SEED})"


# --------------------------------------------------------------------------- pre-training: SIGKILL

TOTAL, EVERY = 8, 2
FLAGS = ("--total_steps", str(TOTAL), "--save_checkpoint_steps", str(EVERY), "--keep_states", "2",
         "--warmup", "0.3", "--report_steps", "1")

# Runs pretrain.py and SIGKILLs itself at step K: inside the optimizer step ("step"), or halfway
# through writing the training state of step K ("save": the weights are written, the metadata
# half-written, and the directory keeps its temporary name).
KILLED_PRETRAIN = r"""
import os, signal, sys
mode, kill_step, argv = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
import uer.model_saver, uer.trainer, uer.training.train_state

def die():
    os.kill(os.getpid(), signal.SIGKILL)

if mode == "step":
    step = uer.trainer.Trainer._optimizer_step
    def dying_step(self):
        if self.step == kill_step:
            die()
        return step(self)
    uer.trainer.Trainer._optimizer_step = dying_step
else:
    write_meta = uer.training.train_state.write_meta
    def dying_write(path, meta):
        if meta["step"] != kill_step:
            return write_meta(path, meta)
        write_meta(path, meta)
        with open(path, "r+b") as handle:
            handle.truncate(os.path.getsize(path) // 2)
        die()
    uer.training.train_state.write_meta = dying_write
import pretrain
pretrain.main(argv)
"""


@pytest.fixture(scope="module")
def pretraining(tmp_path_factory):
    """A bert dataset and the weights of an uninterrupted run (the reference)."""
    root = tmp_path_factory.mktemp("pretraining")
    vocab = make_vocab(root)
    dataset = dataset_for(root, "bert", vocab)
    previous, threads = os.environ.get("OMP_NUM_THREADS"), torch.get_num_threads()
    os.environ["OMP_NUM_THREADS"] = "1"  # as in the killed process (else the trainer takes every core)
    torch.set_num_threads(1)
    try:
        pretrain.main(pretrain_args(root / "straight", dataset, vocab, "bert", *FLAGS))
    finally:
        torch.set_num_threads(threads)
        if previous is None:
            del os.environ["OMP_NUM_THREADS"]
        else:
            os.environ["OMP_NUM_THREADS"] = previous
    return {"root": root, "vocab": vocab, "dataset": dataset,
            "reference": str(root / "straight" / "out" / f"model.bin-{TOTAL}")}


@pytest.mark.parametrize("mode", ["step", "save"])
def test_sigkill_at_a_random_step_then_resume_gives_identical_weights(pretraining, tmp_path, mode):
    kill_step = RNG.randint(1, TOTAL) if mode == "step" else RNG.choice(range(EVERY, TOTAL + 1, EVERY))
    why = f"killed at step {kill_step} ({mode}), UER_FAULT_SEED={SEED}"
    argv = pretrain_args(tmp_path, pretraining["dataset"], pretraining["vocab"], "bert", *FLAGS)
    done = run_python(KILLED_PRETRAIN, mode, kill_step, *argv)
    assert done.returncode == -signal.SIGKILL, f"{why}\n{done.stderr[-2000:]}"
    out = tmp_path / "out"
    names = sorted(os.listdir(out)) if out.exists() else []  # killed before the first save
    # Atomic writes: only whole files carry final names; the killed write left its temporary file.
    assert f"model.bin-{kill_step}.state" not in names, why
    if mode == "save":
        assert any(name.startswith(f".model.bin-{kill_step}.state.tmp") for name in names), (why, names)
    for name in names:
        if name.endswith(".state") and not name.startswith("."):
            load_train_state(str(out / name))
        elif name.startswith("model.bin-") and not name.endswith(".json"):
            load_state_dict_file(str(out / name))

    pretrain.main(argv + ["--resume", "auto"])  # the half-written temporary file is left where it was
    same_weights(pretraining["reference"], str(out / f"model.bin-{TOTAL}"))


# --------------------------------------------------------------------------- pre-training: SIGINT

def test_sigint_saves_a_resumable_state_and_exits_cleanly(pretraining, tmp_path, capsys, monkeypatch):
    import uer.trainer

    stop = RNG.randint(1, TOTAL - 1)
    original = uer.trainer.Trainer._optimizer_step

    def interrupting_step(self):
        original(self)
        if self.step == stop:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(uer.trainer.Trainer, "_optimizer_step", interrupting_step)
    argv = pretrain_args(tmp_path, pretraining["dataset"], pretraining["vocab"], "bert", *FLAGS)
    handler = signal.getsignal(signal.SIGINT)
    with pytest.raises(SystemExit) as exit_info:
        pretrain.main(argv)
    assert signal.getsignal(signal.SIGINT) is handler  # the training loop's handler is gone
    err = capsys.readouterr().err
    assert exit_info.value.code == 130 and "Traceback" not in err, err
    assert f"interrupted at step {stop}: saved" in err and "--resume auto" in err, err
    state = load_train_state(str(tmp_path / "out" / f"model.bin-{stop}.state"))
    assert state["step"] == stop, f"UER_FAULT_SEED={SEED}"

    monkeypatch.setattr(uer.trainer.Trainer, "_optimizer_step", original)
    pretrain.main(argv + ["--resume", "auto"])
    same_weights(pretraining["reference"], str(tmp_path / "out" / f"model.bin-{TOTAL}"))


def test_sigint_between_accumulated_micro_steps_stops_at_the_optimizer_step(tmp_path):
    """A state is only whole after an optimizer step: with --accumulation_steps 2 a Ctrl-C during
    micro-step 3 stops after micro-step 4."""
    import uer.trainer
    from tests.trainer_fixtures import SyntheticLoader, parse
    from uer.training.interrupt import TrainingInterrupted

    class InterruptingLoader(SyntheticLoader):
        def batch(self):
            if self.served == 3:
                os.kill(os.getpid(), signal.SIGINT)
            return super().batch()

    args = parse(str(tmp_path), "mlm", "--total_steps", "8", "--accumulation_steps", "2",
                 "--save_checkpoint_steps", "8")
    original = uer.trainer.build_pretrain_loader
    uer.trainer.build_pretrain_loader = lambda args, ctx: InterruptingLoader("mlm", batch_size=args.batch_size)
    try:
        with pytest.raises(TrainingInterrupted, match="interrupted at step 4"):
            uer.trainer.pretrain_worker(args)
    finally:
        uer.trainer.build_pretrain_loader = original
    assert load_train_state(str(tmp_path / "model.bin-4.state"))["scheduler"]["last_epoch"] == 2


def test_ctrl_c_from_the_terminal_stops_pretrain_py_cleanly(pretraining, tmp_path):
    """SIGINT sent from outside to a running pretrain.py process (as the terminal does)."""
    argv = pretrain_args(tmp_path, pretraining["dataset"], pretraining["vocab"], "bert", "--total_steps", "100000",
                         "--save_checkpoint_steps", "100000", "--report_steps", "1")
    process = subprocess.Popen([sys.executable, os.path.join(REPO, "pretrain.py"), *argv], stderr=subprocess.PIPE,
                               text=True, cwd=REPO, env=ENV)
    try:
        lines = []
        for line in process.stderr:  # the first report line: the loop is running
            lines.append(line)
            if "real tokens/s" in line:
                process.send_signal(signal.SIGINT)
                break
        err = "".join(lines) + process.stderr.read()
        code = process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert code == 130 and "Traceback" not in err, err[-3000:]
    assert "interrupted at step" in err and "--resume auto" in err
    states = [name for name in os.listdir(tmp_path / "out") if name.endswith(".state")]
    assert len(states) == 1 and load_train_state(str(tmp_path / "out" / states[0]))["step"] >= 1


# ----------------------------------------------------------------------------- fine-tuning: SIGINT

def classifier_task(directory):
    paths = write_common(str(directory))
    paths["train"], paths["dev"] = str(directory / "train.tsv"), str(directory / "dev.tsv")
    write_classification(paths["train"], 48, 1)
    write_classification(paths["dev"], 16, 2)
    return paths


def classifier_argv(paths, output, *extra):
    return ["--vocab_path", paths["vocab"], "--config_path", paths["config"], "--tokenizer", "char",
            "--train_path", paths["train"], "--dev_path", paths["dev"], "--output_model_path", output,
            "--epochs_num", "2", "--batch_size", "8", "--learning_rate", "3e-3", "--seq_length", "32",
            "--dropout", "0.1", "--report_steps", "2", "--device", "cpu", *extra]


def test_sigint_during_fine_tuning_then_resume_gives_identical_weights(tmp_path, capsys, monkeypatch):
    import uer.finetune.trainer as fine_tuning

    paths = classifier_task(tmp_path)
    straight, interrupted = str(tmp_path / "straight.bin"), str(tmp_path / "interrupted.bin")
    run_script("run_classifier.py", classifier_argv(paths, straight))

    stop = RNG.randint(1, 11)  # 6 steps an epoch, 2 epochs: stop anywhere but after the last step
    calls = {"n": 0}
    to_device = fine_tuning.to_device

    def interrupting_to_device(batch, device):
        calls["n"] += 1
        if calls["n"] == stop:
            os.kill(os.getpid(), signal.SIGINT)  # lands before this step's forward: the step still completes
        return to_device(batch, device)

    monkeypatch.setattr(fine_tuning, "to_device", interrupting_to_device)
    with pytest.raises(SystemExit) as exit_info:
        run_script("run_classifier.py", classifier_argv(paths, interrupted))
    err = capsys.readouterr().err
    assert exit_info.value.code == 130 and "Traceback" not in err, err
    epoch, step = (stop - 1) // 6 + 1, (stop - 1) % 6 + 1
    assert f"interrupted at epoch {epoch}, step {step}" in err and "--resume auto" in err, (err, SEED)
    assert load_train_state(interrupted + ".state")["step"] == stop

    monkeypatch.setattr(fine_tuning, "to_device", to_device)
    run_script("run_classifier.py", classifier_argv(paths, interrupted, "--resume", "auto"))
    same_weights(straight, interrupted)
    assert json.load(open(interrupted + ".config.json"))["labels_num"] == 2
    assert not os.path.exists(interrupted + ".state")  # done: a later --resume auto starts afresh


# -------------------------------------------------------------------------------------- preprocess

KILLED_PREPROCESS = r"""
import contextlib, os, signal, sys
mode, argv = sys.argv[1], sys.argv[2:]
import uer.data.format
from uer.data.processors.lm import LmProcessor

if mode == "worker":  # a worker kills the main process while the shards are being built
    process = LmProcessor.process
    def killing_process(self, lines, writer, shard_index):
        if shard_index == 1:
            os.kill(os.getppid(), signal.SIGKILL)
        return process(self, lines, writer, shard_index)
    LmProcessor.process = killing_process
else:  # the main process dies while writing the dataset file itself
    write_atomically = uer.data.format.atomic_write
    @contextlib.contextmanager
    def dying_write(path, mode="w"):
        with write_atomically(path, mode) as handle:
            class Dying:
                def write(self, data):
                    handle.write(data)
                    handle.flush()
                    os.kill(os.getpid(), signal.SIGKILL)
                def tell(self):
                    return handle.tell()
            yield Dying()
    uer.data.format.atomic_write = dying_write
import preprocess
preprocess.main(argv)
"""


@pytest.mark.parametrize("mode", ["worker", "merge"])
def test_preprocess_killed_midway_leaves_no_dataset_and_reruns(tmp_path, mode):
    vocab = make_vocab(tmp_path)
    corpus = write(tmp_path, "corpus.txt", lines_corpus(random.Random(0), 300))
    output = str(tmp_path / "out" / "dataset.pt")
    argv = ["--corpus_path", corpus, "--vocab_path", vocab, "--dataset_path", output, "--target", "lm",
            "--processes_num", "2", "--seq_length", "32", "--tokenizer", "char", "--no_progress"]
    session = subprocess.Popen([sys.executable, "-c", KILLED_PREPROCESS, mode, *argv], cwd=REPO, env=ENV,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        _, err = session.communicate(timeout=120)
    finally:
        try:  # a worker orphaned by the kill: stop it with the rest of the session we started
            os.killpg(session.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert session.returncode == -signal.SIGKILL, err[-2000:]
    assert not os.path.exists(output)
    run_preprocess(corpus, vocab, output, "lm", processes=2)
    assert len(DatasetFile(output)) == 300


def test_a_worker_that_raises_fails_the_whole_command_with_its_message(tmp_path):
    vocab = make_vocab(tmp_path)
    corpus = write(tmp_path, "corpus.txt", lines_corpus(random.Random(1), 300))
    output = str(tmp_path / "dataset.pt")
    code = r"""
import sys
from uer.data.processors.lm import LmProcessor
process = LmProcessor.process
def failing(self, lines, writer, shard_index):
    if shard_index == 1:
        raise ValueError("boom in shard 1")
    return process(self, lines, writer, shard_index)
LmProcessor.process = failing
import preprocess
preprocess.main(sys.argv[1:])
"""
    done = run_python(code, "--corpus_path", corpus, "--vocab_path", vocab, "--dataset_path", output, "--target",
                      "lm", "--processes_num", "2", "--tokenizer", "char", "--no_progress")
    assert done.returncode != 0
    assert "worker 1 failed" in done.stderr and "ValueError: boom in shard 1" in done.stderr
    assert sorted(os.listdir(tmp_path)) == ["corpus.txt", "vocab.txt"]  # no dataset, no shard directory


# ------------------------------------------------------------------------------ untrusted pickles

class RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))  # what unpickling would call: any function, any arguments


def test_a_pickle_that_would_run_code_is_refused(tmp_path):
    marker = str(tmp_path / "code_ran")
    weights = {"embedding.word_embedding.weight": torch.zeros(3, 2)}
    torch.save({**weights, "payload": RunsCode(marker)}, tmp_path / "model.bin")
    torch.save({"format": 1, "step": 1, "model": weights, "payload": RunsCode(marker)}, tmp_path / "run.state")
    with pytest.raises(UserInputError, match="refused to load.*run arbitrary code"):
        load_state_dict_file(str(tmp_path / "model.bin"))
    with pytest.raises(UserInputError, match="cannot read the training state"):
        load_train_state(str(tmp_path / "run.state"))
    assert not os.path.exists(marker)
    torch.save(weights, tmp_path / "plain.bin")  # plain tensors still load
    assert torch.equal(load_state_dict_file(str(tmp_path / "plain.bin"))["embedding.word_embedding.weight"],
                       weights["embedding.word_embedding.weight"])


# ---------------------------------------------------------------------------------- long inputs

@pytest.fixture
def watchdog():
    """Fail instead of hanging if a reader loops on a long input (not a speed check: 60 s)."""
    def alarm(signum, frame):
        raise AssertionError("a long input was looped on for 60 s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def test_long_inputs_are_truncated_by_every_reader(tmp_path, watchdog):
    from tests.test_run_cmrc import squad
    from uer.finetune.inputs import PairEncoder
    from uer.finetune.mrc import build_windows, read_mrc
    from uer.finetune.multiple_choice import read_c3
    from uer.finetune.chid import read_chid
    from uer.finetune.tagging import read_tagging
    from uer.tokenizers import CharTokenizer
    from uer.tokenizers.vocab import Vocab

    letters = "abcdefghij"
    vocab_path = write(tmp_path, "vocab.txt", "\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[unused1]"]
                                                         + list(letters + "甲")) + "\n")
    tokenizer = CharTokenizer(Vocab.load(vocab_path))
    long_text = letters * 2000  # 20 000 characters
    seq_length = 32

    ids, seg = PairEncoder(tokenizer, seq_length)(long_text, long_text)
    assert len(ids) == len(seg) == seq_length

    # A context far beyond the window and a question longer than the window.
    context = long_text[:5000] + "甲" + long_text[:3000]
    write(tmp_path, "mrc.json", json.dumps(squad([{"context": context, "qas": [
        {"id": "Q", "question": long_text[:500], "answers": [{"text": "甲", "answer_start": 5000}]}]}])))
    windows = build_windows(read_mrc(str(tmp_path / "mrc.json")), tokenizer,
                            Namespace(seq_length=seq_length, doc_stride=16), with_labels=True)
    assert all(len(src) <= seq_length for src in windows.sequences["src"])
    # The question is cut to half the input; the windows advance by up to --doc_stride, then stop.
    capacity = seq_length - int(windows.meta["offset"][0]) - 1
    assert len(windows) <= len(context) // min(16, capacity) + 2

    c3 = [[[long_text], [{"question": long_text[:300], "choice": [long_text[:200], "ab"], "answer": "ab"}], "d"]]
    write(tmp_path, "c3.json", json.dumps(c3))
    data = read_c3(str(tmp_path / "c3.json"), tokenizer, Namespace(seq_length=seq_length, max_choices_num=2))
    assert max(len(row) for rows in data.sequences["src"] for row in rows) <= seq_length

    write(tmp_path, "chid.json", json.dumps({"candidates": ["abcd"], "content": [long_text + "#idiom000001#"
                                                                                 + long_text]}) + "\n")
    data = read_chid(str(tmp_path / "chid.json"), tokenizer, Namespace(seq_length=seq_length, max_choices_num=2))
    assert max(len(row) for rows in data.sequences["src"] for row in rows) <= seq_length

    write(tmp_path, "ner.tsv", "text_a\tlabel\n" + " ".join(long_text[:4000]) + "\t" + " ".join(["O"] * 4000) + "\n")
    data = read_tagging(str(tmp_path / "ner.tsv"), tokenizer, {"O": 0}, seq_length)
    assert len(data.sequences["src"][0]) == seq_length and data.meta["full_lengths"][0] == 4000


@pytest.mark.parametrize("target", ["mlm", "lm", "bert", "cls", "seq2seq"])
def test_preprocess_cuts_lines_far_beyond_seq_length(tmp_path, target, watchdog):
    vocab = make_vocab(tmp_path)
    rng = random.Random(3)
    long_line = lines_corpus(rng, 1, low=20000, high=20000).strip()
    short = lines_corpus(rng, 3).splitlines()
    if target == "bert":
        corpus = "\n".join([long_line, short[0]]) + "\n\n" + "\n".join(short[1:]) + "\n"
    elif target == "cls":
        corpus = f"1\t{long_line}\n0\t{short[0]}\t{long_line}\n"
    elif target == "seq2seq":
        corpus = f"{long_line}\t{long_line}\n{short[0]}\t{short[1]}\n"
    else:
        corpus = "\n".join([long_line] + short) + "\n"
    path = write(tmp_path, "corpus.txt", corpus)
    output = str(tmp_path / "dataset.pt")
    extra = ("--tgt_seq_length", "16") if target == "seq2seq" else ()
    run_preprocess(path, vocab, output, target, *extra, seq_length=32)
    data = DatasetFile(output)
    stored = 32 + (1 if target == "lm" else 0)  # an lm row holds the input and, one further, its last target
    assert len(data) >= 1 and int(np.max(data.ragged("src").lengths())) <= stored
    if target == "seq2seq":
        assert int(np.max(data.ragged("tgt").lengths())) <= 16 + 1


def test_metrics_survive_classes_never_predicted_or_never_seen():
    import warnings

    from uer.finetune.metrics import (accuracy, classification_report, confusion_matrix, entity_prf, macro_f1,
                                      mean_reciprocal_rank, precision_recall_f1)

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no division-by-zero RuntimeWarning either
        matrix = confusion_matrix([0, 0, 0], [0, 1, 1], labels_num=3)  # class 1 never predicted, 2 never seen
        scores = precision_recall_f1(matrix)
        assert scores[1] == (0.0, 0.0, 0.0) and scores[2] == (0.0, 0.0, 0.0)
        assert 0 < macro_f1(matrix) < 1 and len(classification_report(matrix)) >= 3
        assert accuracy([], [])[0] == 0.0
        assert entity_prf([["O", "O"]], [["O", "O"]])["f1"] == 0.0
        assert mean_reciprocal_rank([[0, 1]], [0.5, 0.2], [0, 0])[1] == 1  # a question without an answer


def test_tools_cut_long_lines_at_the_position_table(tmp_path, capsys):
    """Default --seq_length 128 on a model of 64 positions, lines of 5000 characters: the tools read
    the first 64 tokens of each line."""
    from tests.finetune_fixtures import TINY
    from tests.test_bad_input_matrix import call
    from uer.model_builder import build_model, model_args, with_vocab
    from uer.model_saver import save_model

    vocab = make_vocab(tmp_path)
    size = sum(1 for _ in open(vocab, encoding="utf-8"))
    args = model_args({**TINY, "target": "mlm"})
    save_model(build_model(args, size), str(tmp_path / "mlm.bin"), with_vocab(args, size))
    rng = random.Random(5)
    lines = lines_corpus(rng, 3, low=5000, high=5000).splitlines()
    write(tmp_path, "long.txt", "\n".join(lines) + "\n")
    write(tmp_path, "word_long.txt", "".join(f"{line[3]}\t{line}\n" for line in lines))
    common = ["--load_model_path", tmp_path / "mlm.bin", "--vocab_path", vocab, "--tokenizer", "char"]
    call("scripts/extract_features.py", common + ["--test_path", tmp_path / "long.txt", "--prediction_path",
                                                  tmp_path / "features.pt"])
    assert torch.load(tmp_path / "features.pt", weights_only=True).shape == (3, 32)
    call("scripts/cloze_test.py", common + ["--test_path", tmp_path / "long.txt", "--prediction_path",
                                            tmp_path / "cloze.txt"])
    assert (tmp_path / "cloze.txt").read_text(encoding="utf-8").count("Predicted answer:") == 3
    call("scripts/topn_words_dep.py", common + ["--test_path", tmp_path / "word_long.txt", "--topn", 3])
    assert capsys.readouterr().out.count("Sentence: ") == 3
