"""UER -> Hugging Face folders carry their tokenizer: AutoTokenizer + AutoModelForMaskedLM read the
exported folder and transformers' fill-mask pipeline gives cloze_test.py's guesses and scores."""
import json
import os
import shutil

import pytest
import torch

from tests.conftest import REPO
from tests.test_conversion_scripts import run_script
from uer.model_builder import build_model, model_args
from uer.model_saver import save_model

transformers = pytest.importorskip("transformers")
ZH_VOCAB = os.path.join(REPO, "models", "google_zh_vocab.txt")
SENTENCES = ["这本书很[MASK]看。", "我们今天去[MASK]京。", "他喜欢喝[MASK]。"]
TOPN = 5


def tiny_bert(path: str, vocab_size: int, target: str = "bert", **options) -> None:
    """A random tiny UER BERT saved with its sidecar; large random output biases make the top
    guesses far apart, so their order cannot depend on rounding."""
    args = model_args(dict(emb_size=32, hidden_size=32, feedforward_size=37, heads_num=4, layers_num=2,
                           max_seq_length=64, layernorm_eps=1e-12, dropout=0.0, target=target, **options))
    torch.manual_seed(0)
    model = build_model(args, vocab_size)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.02)
        model.target.mlm_linear_2.bias.copy_(torch.randn(vocab_size) * 3)
    save_model(model, path, model_args({**vars(args), "vocab_size": vocab_size}))


def cloze(model_path: str, vocab_path: str, directory) -> list:
    """[(tokens, scores)] of cloze_test.py --scores for SENTENCES."""
    test, prediction = directory / "cloze.txt", directory / "cloze_out.txt"
    test.write_text("\n".join(SENTENCES) + "\n", encoding="utf-8")
    code = run_script("cloze_test", "--load_model_path", model_path, "--vocab_path", vocab_path,
                      "--test_path", str(test), "--prediction_path", str(prediction), "--topn", str(TOPN),
                      "--scores")
    assert code == 0
    lines = prediction.read_text(encoding="utf-8").splitlines()
    answers = [line.split(": ")[1].split() for line in lines if line.startswith("Predicted answer")]
    scores = [[float(v) for v in line.split(": ")[1].split()] for line in lines if line.startswith("Scores")]
    return list(zip(answers, scores))


def test_exported_bert_fills_masks_as_cloze_test(tmp_path, capsys):
    model_path = str(tmp_path / "bert.bin")
    tiny_bert(model_path, 21128)
    folder = tmp_path / "hf"
    code = run_script("convert_bert_from_uer_to_huggingface", "--input_model_path", model_path,
                      "--output_model_path", str(folder), "--vocab_path", ZH_VOCAB)
    out = capsys.readouterr().out
    assert code == 0, out
    assert "BertTokenizer, do_lower_case true" in out
    assert sorted(os.listdir(folder)) == ["config.json", "model.safetensors", "special_tokens_map.json",
                                          "tokenizer_config.json", "vocab.txt"]
    ours = cloze(model_path, ZH_VOCAB, tmp_path)

    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    model = transformers.AutoModelForMaskedLM.from_pretrained(folder).eval()
    fill = transformers.pipeline("fill-mask", model=model, tokenizer=tokenizer, top_k=TOPN, device="cpu")
    worst = 0.0
    for sentence, (tokens, scores) in zip(SENTENCES, ours):
        theirs = fill(sentence)
        assert [guess["token_str"].replace(" ", "") for guess in theirs] == tokens
        worst = max(worst, max(abs(guess["score"] - score) for guess, score in zip(theirs, scores)))
    assert worst < 1e-5, worst
    print(f"fill-mask max score difference {worst:.2e}")


def test_the_folder_needs_a_vocabulary(tmp_path, capsys):
    """Without a vocabulary the converter stops before writing anything; --no_tokenizer opts out."""
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + list("abcdefGHIJ")) + "\n",
                     encoding="utf-8")
    model_path = str(tmp_path / "bert.bin")
    tiny_bert(model_path, 15, target="mlm")
    assert run_script("convert_bert_from_uer_to_huggingface", "--input_model_path", model_path,
                      "--output_model_path", str(tmp_path / "hf")) == 2
    assert "needs the model's vocabulary" in capsys.readouterr().err
    assert not (tmp_path / "hf").exists()
    assert run_script("convert_bert_from_uer_to_huggingface", "--input_model_path", model_path,
                      "--output_model_path", str(tmp_path / "hf"), "--vocab_path", ZH_VOCAB) == 2
    assert "the vocabulary has 21128 tokens but the model's word embedding has 15 rows" in capsys.readouterr().err
    assert not (tmp_path / "hf").exists()
    (tmp_path / "vocab.json").write_text("{}", encoding="utf-8")
    (tmp_path / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
    assert run_script("convert_bert_from_uer_to_huggingface", "--input_model_path", model_path,
                      "--output_model_path", str(tmp_path / "hf"), "--vocab_path", str(tmp_path / "vocab.json"),
                      "--merges_path", str(tmp_path / "merges.txt")) == 2
    assert "byte-level BPE files go with GPT-2 or RoBERTa models, not bert" in capsys.readouterr().err
    assert not (tmp_path / "hf").exists()
    assert run_script("convert_bert_from_uer_to_huggingface", "--input_model_path", model_path,
                      "--output_model_path", str(tmp_path / "weights_only"), "--no_tokenizer") == 0
    assert sorted(os.listdir(tmp_path / "weights_only")) == ["config.json", "model.safetensors"]
    # The vocabulary the sidecar records (models trained by uer record theirs) is the default.
    args = model_args(dict(json.loads(open(model_path + ".config.json", encoding="utf-8").read()),
                           vocab_path=str(vocab)))
    save_model(build_model(args, 15), model_path, args)
    assert run_script("convert_bert_from_uer_to_huggingface", "--input_model_path", model_path,
                      "--output_model_path", str(tmp_path / "recorded"), "--no_check") == 0
    assert "tokenizer from the vocabulary the sidecar records: " + str(vocab) in capsys.readouterr().out
    assert (tmp_path / "recorded" / "vocab.txt").read_bytes() == vocab.read_bytes()
    os.rename(vocab, tmp_path / "moved.txt")
    assert run_script("convert_bert_from_uer_to_huggingface", "--input_model_path", model_path,
                      "--output_model_path", str(tmp_path / "hf"), "--no_check") == 2
    assert f"the sidecar records the vocabulary {vocab}, which does not exist" in capsys.readouterr().err
    os.rename(tmp_path / "moved.txt", vocab)
    # Upper-case letters in the vocabulary: a cased tokenizer.
    assert run_script("convert_bert_from_uer_to_huggingface", "--input_model_path", model_path,
                      "--output_model_path", str(tmp_path / "hf"), "--vocab_path", str(vocab)) == 0
    config = json.loads((tmp_path / "hf" / "tokenizer_config.json").read_text(encoding="utf-8"))
    assert config["do_lower_case"] is False and config["tokenizer_class"] == "BertTokenizer"
    tokenizer = transformers.AutoTokenizer.from_pretrained(tmp_path / "hf")
    assert tokenizer.convert_ids_to_tokens(tokenizer("a G")["input_ids"]) == ["[CLS]", "a", "G", "[SEP]"]


def test_sentencepiece_and_bpe_files(tmp_path, capsys):
    """An ALBERT with a SentencePiece model gets spiece.model + AlbertTokenizer; a GPT-2 with a BPE
    vocab.json + merges.txt gets both files and GPT2Tokenizer (ids as the files say)."""
    spm = os.path.join(REPO, "models", "cluecorpussmall_spm.model")
    from uer.tokenizers.vocab import Vocab

    size = len(Vocab.from_spm(spm))
    args = model_args(dict(emb_size=16, hidden_size=32, feedforward_size=37, heads_num=4, layers_num=2,
                           max_seq_length=64, target="albert", factorized_embedding_parameterization=True,
                           parameter_sharing=True, hidden_act="gelu_fast", vocab_size=size))
    save_model(build_model(args, size), str(tmp_path / "albert.bin"), args)
    assert run_script("convert_albert_from_uer_to_huggingface", "--input_model_path", str(tmp_path / "albert.bin"),
                      "--output_model_path", str(tmp_path / "albert"), "--spm_model_path", spm, "--no_check") == 0
    assert "spiece.model" in os.listdir(tmp_path / "albert")
    tokenizer = transformers.AutoTokenizer.from_pretrained(tmp_path / "albert")
    assert type(tokenizer).__name__.startswith("AlbertTokenizer")
    from uer.tokenizers import build_tokenizer

    ours = build_tokenizer(model_args({"spm_model_path": spm, "vocab_path": None, "tokenizer": "bert"}))
    text = "这本书很好看，2021年出版。"
    assert tokenizer(text, add_special_tokens=False)["input_ids"] == ours.encode(text)

    # T5: T5Tokenizer ends texts with an eos the vocabulary has ([SEP] here), adding no id.
    t5 = model_args(dict(json.load(open(os.path.join(REPO, "models", "t5", "small_config.json"))), emb_size=32,
                         hidden_size=32, feedforward_size=37, heads_num=4, layers_num=1, decoder_layers_num=1,
                         attention_head_size=8, vocab_size=size, tgt_vocab_size=size))
    save_model(build_model(t5, size), str(tmp_path / "t5.bin"), t5)
    assert run_script("convert_t5_from_uer_to_huggingface", "--input_model_path", str(tmp_path / "t5.bin"),
                      "--output_model_path", str(tmp_path / "t5"), "--spm_model_path", spm, "--no_check") == 0
    tokenizer = transformers.AutoTokenizer.from_pretrained(tmp_path / "t5")
    assert len(tokenizer) == size and tokenizer.eos_token == "[SEP]"
    assert tokenizer(text)["input_ids"] == ours.encode(text) + [ours.vocab.w2i["[SEP]"]]

    vocab = {"<|endoftext|>": 0, "a": 1, "b": 2, "ab": 3, "Ġ": 4, "Ġab": 5}
    (tmp_path / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (tmp_path / "merges.txt").write_text("#version: 0.2\na b\nĠ ab\n", encoding="utf-8")
    args = model_args(dict(emb_size=32, hidden_size=32, feedforward_size=37, heads_num=4, layers_num=2,
                           max_seq_length=64, embedding="word_pos", remove_embedding_layernorm=True, mask="causal",
                           layernorm_positioning="pre", target="lm", tie_weights=True, vocab_size=len(vocab)))
    save_model(build_model(args, len(vocab)), str(tmp_path / "gpt2.bin"), args)
    assert run_script("convert_gpt2_from_uer_to_huggingface", "--input_model_path", str(tmp_path / "gpt2.bin"),
                      "--output_model_path", str(tmp_path / "gpt2"), "--vocab_path", str(tmp_path / "vocab.json"),
                      "--merges_path", str(tmp_path / "merges.txt"), "--no_check") == 0
    tokenizer = transformers.AutoTokenizer.from_pretrained(tmp_path / "gpt2")
    assert tokenizer("ab ab")["input_ids"] == [3, 5]
    assert tokenizer.eos_token == "<|endoftext|>"
    shutil.rmtree(tmp_path / "gpt2")
