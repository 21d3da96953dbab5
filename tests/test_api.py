"""uer.load: every method gives the numbers of the script it stands for, on the same checkpoint."""
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import uer
from tests.conftest import REPO
from tests.finetune_fixtures import (LABEL2ID, run_script, write_classification, write_common, write_ner)
from tests.test_generation import GPT2
from tests.test_scripts_tools import CHARS, MLM, save_tiny, write_vocab
from uer.model_loader import load_state_dict_file
from uer.utils.constants import SPECIAL_TOKENS
from uer.utils.errors import UserInputError

pytestmark = pytest.mark.usefixtures("one_thread")


def test_import_is_cheap_and_lists_the_api():
    code = "import sys, uer; print('torch' in sys.modules, 'load' in dir(uer), 'Predictor' in dir(uer))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True).stdout
    assert out.split() == ["False", "True", "True"]
    assert uer.load.__module__ == "uer.api"


@pytest.fixture(scope="module")
def finetuned(tmp_path_factory):
    """A classifier and a tagger fine-tuned one epoch by the scripts, with their sidecars."""
    root = tmp_path_factory.mktemp("finetuned")
    paths = write_common(str(root))
    for name, n, seed in (("train", 120, 1), ("dev", 40, 2), ("test", 50, 3)):
        write_classification(str(root / f"{name}.tsv"), n, seed)
        write_ner(str(root / f"ner_{name}.tsv"), n, seed)
    (root / "label2id.json").write_text(__import__("json").dumps(LABEL2ID), encoding="utf-8")
    common = ["--vocab_path", paths["vocab"], "--config_path", paths["config"], "--epochs_num", "1",
              "--batch_size", "16", "--learning_rate", "1e-3", "--seq_length", "32", "--device", "cpu"]
    run_script("run_classifier.py", common + ["--tokenizer", "char", "--train_path", root / "train.tsv",
                                              "--dev_path", root / "dev.tsv", "--output_model_path", root / "cls.bin"])
    run_script("run_ner.py", common + ["--train_path", root / "ner_train.tsv", "--dev_path", root / "ner_dev.tsv",
                                       "--label2id_path", root / "label2id.json", "--output_model_path",
                                       root / "ner.bin"])
    return root, paths["vocab"]


def test_classify_equals_run_classifier_infer(finetuned):
    root, vocab = finetuned
    run_script("inference/run_classifier_infer.py", [
        "--load_model_path", root / "cls.bin", "--vocab_path", vocab, "--test_path", root / "test.tsv",
        "--prediction_path", root / "cls_pred.tsv", "--output_prob", "--batch_size", "8", "--device", "cpu"])
    rows = [line.split("\t") for line in (root / "cls_pred.tsv").read_text(encoding="utf-8").splitlines()[1:]]
    texts = [line.split("\t")[1] for line in (root / "test.tsv").read_text(encoding="utf-8").splitlines()[1:]]
    model = uer.load(str(root / "cls.bin"), vocab_path=vocab, device="cpu", batch_size=8)
    results = model.classify(texts)
    assert [r["label"] for r in results] == [int(row[0]) for row in rows]
    expected = np.array([[float(v) for v in row[1].split()] for row in rows])
    assert np.abs(np.array([r["probabilities"] for r in results]) - expected).max() < 1e-6


def test_tag_equals_run_ner_infer(finetuned):
    root, vocab = finetuned
    run_script("inference/run_ner_infer.py", [
        "--load_model_path", root / "ner.bin", "--vocab_path", vocab, "--test_path", root / "ner_test.tsv",
        "--prediction_path", root / "ner_pred.tsv", "--device", "cpu"])
    expected = [line.split(" ") for line in (root / "ner_pred.tsv").read_text(encoding="utf-8").splitlines()[1:]]
    texts = [line.split("\t")[0] for line in (root / "ner_test.tsv").read_text(encoding="utf-8").splitlines()[1:]]
    model = uer.load(str(root / "ner.bin"), vocab_path=vocab, device="cpu")
    results = model.tag(texts[:-1] + [texts[-1].split(" ")])  # a token list reads like its string
    assert [r["tags"] for r in results] == expected
    tagged = next(r for r in results if r["entities"])
    first = tagged["entities"][0]
    assert tagged["tags"][first["start"]] == "B-" + first["type"]
    assert first["text"] == " ".join(tagged["tokens"][first["start"]:first["end"]])
    with pytest.raises(UserInputError, match="not a classifier"):
        model.classify(["a b"])


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    """A tiny random MLM and a GPT-2-style LM saved with sidecars, and their vocabulary."""
    root = tmp_path_factory.mktemp("pretrained")
    tokens = SPECIAL_TOKENS + list(dict.fromkeys(CHARS))
    vocab = write_vocab(root / "vocab.txt", tokens)
    save_tiny(root / "mlm.bin", dict(MLM, tie_weights=True), len(tokens))
    save_tiny(root / "lm.bin", GPT2, len(tokens), seed=1)
    lines = ["今天天气很好", "我们去公园玩吧", "自然语言处理是人工智能的重要方向", "好"]
    (root / "lines.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root, str(vocab), lines


def test_encode_equals_extract_features(pretrained):
    root, vocab, lines = pretrained
    for pooling in ("first", "mean"):
        out = root / f"features_{pooling}.pt"
        run_script("scripts/extract_features.py", [
            "--load_model_path", root / "mlm.bin", "--vocab_path", vocab, "--test_path", root / "lines.txt",
            "--prediction_path", out, "--pooling", pooling, "--batch_size", "3"])
        vectors = uer.load(str(root / "mlm.bin"), vocab_path=vocab, device="cpu", batch_size=3).encode(
            lines, pooling=pooling)
        assert torch.equal(vectors, torch.load(out))


def test_fill_mask_equals_cloze_test(pretrained):
    root, vocab, _ = pretrained
    texts = ["今天[MASK]气很好", "我们去[MASK]园玩[MASK]"]
    (root / "cloze.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
    run_script("scripts/cloze_test.py", ["--load_model_path", root / "mlm.bin", "--vocab_path", vocab,
                                         "--test_path", root / "cloze.txt", "--prediction_path", root / "cloze_out.txt",
                                         "--topn", "5"])
    answers = [line.split(": ")[1].split(" ") for line in
               (root / "cloze_out.txt").read_text(encoding="utf-8").splitlines() if line.startswith("Predicted")]
    model = uer.load(str(root / "mlm.bin"), vocab_path=vocab, device="cpu")
    filled = model.fill_mask(texts, topn=5)
    assert [[token for token, _ in blank] for blanks in filled for blank in blanks] == answers
    single = model.fill_mask(texts[0], topn=5)
    assert [[t for t, _ in blank] for blank in single] == [[t for t, _ in blank] for blank in filled[0]]
    assert np.allclose([p for _, p in single[0]], [p for _, p in filled[0][0]], atol=1e-6)  # other padding
    assert 0 < sum(p for _, p in single[0]) <= 1
    with pytest.raises(UserInputError, match="no \\[MASK\\] to fill"):
        model.fill_mask("今天天气很好")


def test_generate_equals_generate_lm(pretrained):
    root, vocab, _ = pretrained
    (root / "prompt.txt").write_text("今天\n", encoding="utf-8")
    run_script("scripts/generate_lm.py", ["--load_model_path", root / "lm.bin", "--vocab_path", vocab,
                                          "--test_path", root / "prompt.txt", "--prediction_path", root / "gen.txt",
                                          "--seq_length", "20", "--top_k", "5", "--seed", "3"])
    expected = (root / "gen.txt").read_text(encoding="utf-8").splitlines()[1]
    model = uer.load(str(root / "lm.bin"), vocab_path=vocab, device="cpu")
    assert model.generate("今天", max_length=20, top_k=5, seed=3) == expected
    assert model.generate("今天", max_length=20, greedy=True) != model.generate("今天", max_length=20, seed=3)


def test_uer_py_checkpoint_with_config_and_vocab(pretrained, tmp_path):
    """A checkpoint without a sidecar (UER-py's model zoo) needs config= and vocab_path=."""
    import json

    root, vocab, lines = pretrained
    torch.save(load_state_dict_file(str(root / "mlm.bin")), tmp_path / "uer_py.bin")
    config = tmp_path / "config.json"
    config.write_text(json.dumps({**MLM, "tie_weights": True}), encoding="utf-8")
    ours = uer.load(str(root / "mlm.bin"), vocab_path=vocab, device="cpu").encode(lines)
    theirs = uer.load(str(tmp_path / "uer_py.bin"), config=str(config), vocab_path=vocab, device="cpu").encode(lines)
    assert torch.equal(ours, theirs)
    with pytest.raises(UserInputError, match="model file not found"):
        uer.load(str(tmp_path / "missing.bin"), vocab_path=vocab)
    with pytest.raises(UserInputError, match="uer.load: unrecognized arguments: no_such_option 3"):
        uer.load(str(root / "mlm.bin"), vocab_path=vocab, no_such_option=3)
    with pytest.raises(UserInputError, match="argument pooling: invalid choice"):
        uer.load(str(root / "mlm.bin"), vocab_path=vocab, pooling="median")
    cased = uer.load(str(root / "mlm.bin"), vocab_path=vocab, do_lower_case=False, bf16=False, device="cpu")
    assert cased.args.do_lower_case is False and cased.args.bf16 is False
    with pytest.raises(UserInputError, match="give a list of texts"):
        uer.load(str(root / "mlm.bin"), vocab_path=vocab, device="cpu").encode("今天")


def test_hugging_face_folder(tmp_path):
    """A folder saved by transformers (config.json + model.safetensors + vocab.txt) loads in place."""
    transformers = pytest.importorskip("transformers")
    tokens = SPECIAL_TOKENS + list(dict.fromkeys(CHARS))
    torch.manual_seed(0)
    hf = transformers.BertModel(transformers.BertConfig(vocab_size=len(tokens), hidden_size=32, num_hidden_layers=2,
                                                        num_attention_heads=4, intermediate_size=37,
                                                        max_position_embeddings=64)).eval()
    hf.save_pretrained(tmp_path / "hf")
    write_vocab(tmp_path / "hf" / "vocab.txt", tokens)
    lines = ["今天天气很好", "好"]
    vectors = uer.load(str(tmp_path / "hf"), device="cpu").encode(lines)
    tokenizer = transformers.BertTokenizer(str(tmp_path / "hf" / "vocab.txt"))
    with torch.no_grad():
        for i, line in enumerate(lines):
            expected = hf(**tokenizer(line, return_tensors="pt")).last_hidden_state[0, 0]
            assert torch.allclose(vectors[i], expected, atol=1e-5)


def test_readme_examples_use_the_api():
    """README's Python API section exists (its snippets run in tests/test_readme.py)."""
    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as handle:
        text = handle.read()
    assert "### Python API" in text and "uer.load(" in text
