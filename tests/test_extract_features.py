"""scripts/extract_features.py on a converted Hugging Face BERT gives transformers' vectors."""
import os
import subprocess
import sys

import pytest
import torch

from tests.conftest import REPO

transformers = pytest.importorskip("transformers")

SENTENCES = ["今天天气很好", "hello world, this is UER!", "自然语言处理 NLP", "短", "一二三四五六七八九十" * 3]


def write_vocab(path):
    chars = sorted(set("".join(SENTENCES).lower()) - {" "})
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + chars + ["hello", "world", "this", "is", "uer", "nlp"]
    path.write_text("\n".join(tokens) + "\n", encoding="utf-8")
    return len(tokens)


def run(script, *args):
    result = subprocess.run([sys.executable, os.path.join(REPO, script), *args], capture_output=True, text=True,
                            cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.mark.parametrize("pooling", ["first", "mean"])
def test_extract_features_matches_transformers(tmp_path, pooling):
    vocab_size = write_vocab(tmp_path / "vocab.txt")
    config = transformers.BertConfig(vocab_size=vocab_size, hidden_size=64, num_hidden_layers=2,
                                     num_attention_heads=4, intermediate_size=128, max_position_embeddings=128)
    torch.manual_seed(0)
    hf = transformers.BertModel(config).eval()
    hf.save_pretrained(tmp_path / "hf")
    report = run("scripts/convert_bert_from_huggingface_to_uer.py", "--input_model_path", str(tmp_path / "hf"),
                 "--output_model_path", str(tmp_path / "uer.bin"), "--target", "mlm")
    assert "absent from the Hugging Face" in report
    (tmp_path / "test.txt").write_text("\n".join(SENTENCES) + "\n", encoding="utf-8")
    run("scripts/extract_features.py", "--load_model_path", str(tmp_path / "uer.bin"), "--vocab_path",
        str(tmp_path / "vocab.txt"), "--test_path", str(tmp_path / "test.txt"), "--prediction_path",
        str(tmp_path / "features.pt"), "--pooling", pooling, "--seq_length", "64")
    ours = torch.load(tmp_path / "features.pt")
    assert ours.shape == (len(SENTENCES), 64)

    tokenizer = transformers.BertTokenizer(vocab=str(tmp_path / "vocab.txt"))
    encoded = tokenizer(SENTENCES, padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = hf(**encoded).last_hidden_state
    mask = encoded["attention_mask"].unsqueeze(-1).float()
    expected = hidden[:, 0] if pooling == "first" else (hidden * mask).sum(1) / mask.sum(1)
    assert (ours - expected).abs().max().item() < 1e-5
