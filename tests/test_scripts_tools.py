"""The model tools and generation scripts of scripts/, end to end on tiny models saved with sidecars.

Scripts run in-process through their ``main(argv)`` (a subprocess per run would cost seconds of
imports); ``cli_main`` turns user errors into ``error: ...`` on stderr and exit status 2.
"""
import json
import os
import re
import runpy
import sys

import pytest
import torch

from tests.conftest import REPO
from tests.conftest import load_script as load_script_path
from tests.test_generation import GPT2, LSTM, SEQ2SEQ, T5, perturb
from uer.generation import Sampling, detokenize, generate_lm
from uer.model_builder import build_model, model_args, with_vocab
from uer.model_loader import load_state_dict_file
from uer.model_saver import save_model
from uer.utils.constants import SPECIAL_TOKENS

pytestmark = pytest.mark.usefixtures("one_thread")

CHARS = "今天天气很好我们去公园玩吧自然语言处理是人工智能的重要方向中文模型生成"
WORDS = ["hello", "world", "un", "##believ", "##able", "##s", "good", "day", ",", "."]
MLM = dict(emb_size=32, hidden_size=32, feedforward_size=64, heads_num=4, layers_num=2, max_seq_length=64,
           dropout=0.0, embedding="word_pos_seg", encoder="transformer", mask="fully_visible", target="mlm")


def load_script(name):
    return load_script_path(f"scripts/{name}.py")


def run(name, *argv):
    return load_script(name).main([str(value) for value in argv])


def run_fails(capsys, name, *argv, code=2):
    with pytest.raises(SystemExit) as exit_info:
        run(name, *argv)
    assert exit_info.value.code == code
    captured = capsys.readouterr()
    return captured.out + captured.err


def write_vocab(path, tokens):
    path.write_text("".join(token + "\n" for token in tokens), encoding="utf-8")
    return path


@pytest.fixture
def vocab(tmp_path):
    tokens = SPECIAL_TOKENS + list(dict.fromkeys(CHARS)) + WORDS
    return write_vocab(tmp_path / "vocab.txt", tokens), tokens


def save_tiny(path, options, vocab_size, seed=0, tgt_vocab_size=None):
    """Build, randomise and save a model with its sidecar (architecture, vocabulary size, tokenizer)."""
    args = model_args(options)
    torch.manual_seed(seed)
    model = perturb(build_model(args, vocab_size, tgt_vocab_size), seed)
    saved_args = with_vocab(args, vocab_size, tgt_vocab_size)
    saved_args.tokenizer = "bert"
    save_model(model, str(path), saved_args)
    return model


# ----------------------------------------------------------------------------------- checkpoint tools

def test_average_models(tmp_path, vocab, capsys):
    _, tokens = vocab
    paths = [tmp_path / f"m{i}.bin" for i in range(3)]
    models = [save_tiny(path, dict(MLM, tie_weights=True), len(tokens), seed=i) for i, path in enumerate(paths)]
    run("average_models", "--model_list_path", *paths, "--output_model_path", tmp_path / "avg.bin")
    averaged = torch.load(tmp_path / "avg.bin", weights_only=True)
    for key, tensor in averaged.items():
        expected = sum(model.state_dict()[key].double() for model in models) / 3
        assert torch.allclose(tensor.double(), expected, atol=1e-6), key
    # Tied tensors stay one tensor; the sidecar travels with the weights.
    assert averaged["target.mlm_linear_2.weight"].data_ptr() == averaged["embedding.word_embedding.weight"].data_ptr()
    assert json.loads((tmp_path / "avg.bin.config.json").read_text())["target"] == "mlm"

    save_tiny(tmp_path / "other.bin", dict(MLM, layers_num=1), len(tokens))
    message = run_fails(capsys, "average_models", "--model_list_path", paths[0], tmp_path / "other.bin",
                        "--output_model_path", tmp_path / "bad.bin")
    assert "other.bin" in message and "differ" in message
    assert not (tmp_path / "bad.bin").exists()


def test_multi_single_convert(tmp_path, vocab):
    _, tokens = vocab
    model = save_tiny(tmp_path / "m.bin", MLM, len(tokens))
    run("multi_single_convert", "--input_model_path", tmp_path / "m.bin", "--output_model_path",
        tmp_path / "ddp.bin", "--add_module_prefix")
    wrapped = torch.load(tmp_path / "ddp.bin", weights_only=True)
    assert set(wrapped) == {"module." + key for key in model.state_dict()}
    assert (tmp_path / "ddp.bin.config.json").exists()
    run("multi_single_convert", "--input_model_path", tmp_path / "ddp.bin", "--output_model_path",
        tmp_path / "single.bin", "--delete_module_prefix")
    single = torch.load(tmp_path / "single.bin", weights_only=True)
    assert set(single) == set(model.state_dict())
    assert all(torch.equal(single[key], value) for key, value in model.state_dict().items())


def test_check_model(tmp_path, vocab, capsys):
    vocab_path, tokens = vocab
    save_tiny(tmp_path / "m.bin", MLM, len(tokens))
    run("check_model", "--input_model_path", tmp_path / "m.bin", "--vocab_path", vocab_path)
    assert "OK: all" in capsys.readouterr().out
    run("check_model", "--input_model_path", tmp_path / "m.bin")  # vocabulary size from the sidecar
    assert "OK: all" in capsys.readouterr().out

    # A typed flag overrides the sidecar: one layer fewer leaves layer 1's tensors unexpected.
    out = run_fails(capsys, "check_model", "--input_model_path", tmp_path / "m.bin", "--vocab_path", vocab_path,
                    "--layers_num", "1", code=1)
    assert "unexpected (not in the model)" in out and "encoder.transformer.1.self_attn" in out and "FAILED" in out
    small = write_vocab(tmp_path / "small.txt", tokens[:-3])
    out = run_fails(capsys, "check_model", "--input_model_path", tmp_path / "m.bin", "--vocab_path", small, code=1)
    assert "shape mismatches" in out and "embedding.word_embedding.weight" in out
    out = run_fails(capsys, "check_model", "--input_model_path", tmp_path / "m.bin", "--vocab_path", vocab_path,
                    "--target", "bert", code=1)
    assert "missing from the checkpoint" in out and "target.nsp_linear_1.weight" in out

    torch.save(load_state_dict_file(str(tmp_path / "m.bin")), tmp_path / "bare.bin")  # no sidecar
    assert "give --vocab_path" in run_fails(capsys, "check_model", "--input_model_path", tmp_path / "bare.bin")


def test_check_model_takes_the_target_from_the_sidecar_over_a_preset(tmp_path, vocab, capsys):
    """A preset says "target": "bert"; an mlm checkpoint checked with it is still an mlm model."""
    vocab_path, tokens = vocab
    save_tiny(tmp_path / "m.bin", MLM, len(tokens))
    preset = {key: MLM[key] for key in ("emb_size", "hidden_size", "feedforward_size", "heads_num", "layers_num")}
    (tmp_path / "preset.json").write_text(json.dumps({**preset, "target": "bert"}), encoding="utf-8")
    run("check_model", "--input_model_path", tmp_path / "m.bin", "--config_path", tmp_path / "preset.json")
    out = capsys.readouterr().out
    assert "OK: all" in out and "target mlm from the checkpoint's sidecar; --config_path" in out and "says bert" in out
    torch.save(load_state_dict_file(str(tmp_path / "m.bin")), tmp_path / "bare.bin")  # no sidecar: the preset's
    out = run_fails(capsys, "check_model", "--input_model_path", tmp_path / "bare.bin", "--vocab_path", vocab_path,
                    "--config_path", tmp_path / "preset.json", code=1)
    assert "target bert from --config_path" in out and "FAILED" in out


# -------------------------------------------------------------------------------------------- embeddings

def read_word2vec(path):
    lines = path.read_text(encoding="utf-8").splitlines()
    count, dim = map(int, lines[0].split())
    rows = [line.split(" ") for line in lines[1:]]
    assert len(rows) == count and all(len(row) == dim + 1 for row in rows)
    return {row[0]: torch.tensor([float(v) for v in row[1:]]) for row in rows}, dim


def test_extract_embeddings_word2vec(tmp_path, vocab, capsys):
    vocab_path, tokens = vocab
    model = save_tiny(tmp_path / "m.bin", MLM, len(tokens))
    run("extract_embeddings", "--load_model_path", tmp_path / "m.bin", "--vocab_path", vocab_path,
        "--word_embedding_path", tmp_path / "emb.txt")
    vectors, dim = read_word2vec(tmp_path / "emb.txt")
    weight = model.embedding.word_embedding.weight
    assert dim == 32 and list(vectors) == tokens
    for i, token in enumerate(tokens):
        assert torch.allclose(vectors[token], weight[i], rtol=1e-5, atol=1e-6)

    small = write_vocab(tmp_path / "small.txt", tokens[:-1])
    message = run_fails(capsys, "extract_embeddings", "--load_model_path", tmp_path / "m.bin", "--vocab_path", small,
                        "--word_embedding_path", tmp_path / "bad.txt")
    assert "m.bin" in message and "rows" in message and not (tmp_path / "bad.txt").exists()


def test_extract_embeddings_with_sentencepiece(tmp_path):
    spm = pytest.importorskip("sentencepiece")
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(["hello world, a good day", "unbelievable things happen", "good words"] * 30),
                      encoding="utf-8")
    spm.SentencePieceTrainer.train(input=str(corpus), model_prefix=str(tmp_path / "sp"), vocab_size=25,
                                   user_defined_symbols=["[CLS]", "[SEP]", "[MASK]"], pad_id=0, pad_piece="[PAD]",
                                   unk_id=1, unk_piece="[UNK]", bos_id=-1, eos_id=-1, minloglevel=2)
    sp = spm.SentencePieceProcessor(model_file=str(tmp_path / "sp.model"))
    pieces = [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
    model = save_tiny(tmp_path / "m.bin", MLM, len(pieces))
    run("extract_embeddings", "--load_model_path", tmp_path / "m.bin", "--spm_model_path", tmp_path / "sp.model",
        "--word_embedding_path", tmp_path / "emb.txt")
    vectors, _ = read_word2vec(tmp_path / "emb.txt")
    assert list(vectors) == pieces
    assert torch.allclose(vectors[pieces[-1]], model.embedding.word_embedding.weight[-1], rtol=1e-5, atol=1e-6)


def test_blank_vocabulary_token_is_left_out_of_word2vec(tmp_path, vocab, caplog):
    _, tokens = vocab
    with_space = write_vocab(tmp_path / "space.txt", tokens + [""])  # a blank line is the token " "
    save_tiny(tmp_path / "m.bin", MLM, len(tokens) + 1)
    run("extract_embeddings", "--load_model_path", tmp_path / "m.bin", "--vocab_path", with_space,
        "--word_embedding_path", tmp_path / "emb.txt")
    vectors, _ = read_word2vec(tmp_path / "emb.txt")
    assert list(vectors) == tokens and "white space" in caplog.text


def test_topn_words_indep(tmp_path, vocab):
    vocab_path, tokens = vocab
    model = save_tiny(tmp_path / "m.bin", MLM, len(tokens))
    (tmp_path / "words.txt").write_text("天\nhello\n\n不存在\n", encoding="utf-8")
    run("topn_words_indep", "--load_model_path", tmp_path / "m.bin", "--vocab_path", vocab_path, "--test_path",
        tmp_path / "words.txt", "--topn", 5, "--prediction_path", tmp_path / "out.txt")
    blocks = (tmp_path / "out.txt").read_text(encoding="utf-8").strip("\n").split("\n\n")
    assert [block.splitlines()[0] for block in blocks] == ["Target: 天", "Target: hello", "Target: 不存在"]
    assert blocks[2].splitlines()[1] == "(not in the vocabulary)"
    weight = torch.nn.functional.normalize(model.embedding.word_embedding.weight.detach(), dim=-1)
    scores = weight @ weight[tokens.index("天")]
    scores[tokens.index("天")] = -2
    expected = [tokens[i] for i in scores.topk(5).indices.tolist()]
    assert [line.split("\t")[0] for line in blocks[0].splitlines()[1:]] == expected


def test_topn_words_dep(tmp_path, vocab, capsys):
    vocab_path, tokens = vocab
    save_tiny(tmp_path / "m.bin", MLM, len(tokens))
    cand = write_vocab(tmp_path / "cand.txt", list("天气很好我们公园") + ["nonexistent"])
    (tmp_path / "test.txt").write_text("天\t今天天气很好\n公\t我们去公园玩吧\n", encoding="utf-8")
    run("topn_words_dep", "--load_model_path", tmp_path / "m.bin", "--vocab_path", vocab_path, "--cand_vocab_path",
        cand, "--test_path", tmp_path / "test.txt", "--topn", 4, "--batch_size", 3)
    blocks = capsys.readouterr().out.strip("\n").split("\n\n")
    assert len(blocks) == 2
    lines = blocks[0].splitlines()
    assert lines[:2] == ["Sentence: 今天天气很好", "Target: 天"]
    ranked = [line.split("\t") for line in lines[2:]]
    assert len(ranked) == 4 and "天" not in [word for word, _ in ranked]
    scores = [float(score) for _, score in ranked]
    assert scores == sorted(scores, reverse=True)

    (tmp_path / "bad.txt").write_text("天\t今天天气很好\n没有制表符的行\n", encoding="utf-8")
    message = run_fails(capsys, "topn_words_dep", "--load_model_path", tmp_path / "m.bin", "--vocab_path", vocab_path,
                        "--test_path", tmp_path / "bad.txt")
    assert "bad.txt:2:" in message and "word<TAB>sentence" in message
    (tmp_path / "absent.txt").write_text("园\t今天天气很好\n", encoding="utf-8")
    assert "absent.txt:1:" in run_fails(capsys, "topn_words_dep", "--load_model_path", tmp_path / "m.bin",
                                        "--vocab_path", vocab_path, "--test_path", tmp_path / "absent.txt")


def test_cloze_test(tmp_path, vocab, capsys):
    vocab_path, tokens = vocab
    save_tiny(tmp_path / "m.bin", dict(MLM, tie_weights=True), len(tokens))
    sentences = ["今天天气很好", "自然语言处理是人工智能的重要方向", "hello world", "好"]
    (tmp_path / "test.txt").write_text("\n".join(sentences) + "\n", encoding="utf-8")
    argv = ["--load_model_path", tmp_path / "m.bin", "--vocab_path", vocab_path, "--test_path",
            tmp_path / "test.txt", "--prediction_path", tmp_path / "cloze.txt", "--topn", 3, "--batch_size", 3]
    run("cloze_test", *argv)
    assert "4 sentences" in capsys.readouterr().out
    blocks = (tmp_path / "cloze.txt").read_text(encoding="utf-8").split("\n\n")[:-1]
    assert len(blocks) == 4
    for sentence, block in zip(sentences, blocks):
        masked, predicted, correct = block.splitlines()
        assert masked.count("[MASK]") == 1 and "[CLS]" not in masked and "[SEP]" not in masked
        assert predicted.startswith("Predicted answer: ") and len(predicted.split(" ")) == 2 + 3
        answer = correct[len("Correct answer: "):]
        assert masked.replace("[MASK]", answer).replace(" ", "") == sentence.replace(" ", "")
    first = (tmp_path / "cloze.txt").read_text(encoding="utf-8")
    run("cloze_test", *argv)  # the seed fixes the masked positions
    assert (tmp_path / "cloze.txt").read_text(encoding="utf-8") == first

    (tmp_path / "empty_line.txt").write_text("今天\n\n好\n", encoding="utf-8")
    message = run_fails(capsys, "cloze_test", *argv[:4], "--test_path", tmp_path / "empty_line.txt",
                        "--prediction_path", tmp_path / "x.txt")
    assert "empty_line.txt:2:" in message
    save_tiny(tmp_path / "lm.bin", GPT2, len(tokens))
    message = run_fails(capsys, "cloze_test", "--load_model_path", tmp_path / "lm.bin", *argv[2:])
    assert "masked language model" in message


@pytest.mark.parametrize("tokenizer", ["bert", "char"])
def test_cloze_test_fills_typed_blanks(tmp_path, vocab, capsys, tokenizer):
    """Every typed [MASK] is one token (the char tokenizer would cut it into 6) and gets its own
    top-n, from one forward pass with all the line's blanks masked, as in fill-mask."""
    vocab_path, tokens = vocab
    model = save_tiny(tmp_path / "m.bin", dict(MLM, tie_weights=True), len(tokens)).eval()
    lines = ["今天[MASK]气很好", "我们[MASK]公[MASK]玩吧", "自然语言处理"]
    (tmp_path / "test.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    run("cloze_test", "--load_model_path", tmp_path / "m.bin", "--vocab_path", vocab_path, "--tokenizer", tokenizer,
        "--test_path", tmp_path / "test.txt", "--prediction_path", tmp_path / "cloze.txt", "--topn", 3)
    assert "3 sentences: 3 typed [MASK] filled in 2; 1 randomly masked" in capsys.readouterr().out
    blocks = [block.splitlines() for block in (tmp_path / "cloze.txt").read_text(encoding="utf-8").split("\n\n")[:-1]]
    assert [len(block) for block in blocks] == [2, 3, 3]
    assert blocks[0][0].replace(" ", "") == lines[0] and blocks[1][0].replace(" ", "") == lines[1]
    assert blocks[1][1].startswith("Predicted answer 1: ") and blocks[1][2].startswith("Predicted answer 2: ")
    assert blocks[2][2].startswith("Correct answer: ")  # no typed blank: a random one, scored as before

    def top3(text, positions):
        ids = [tokens.index(t) for t in ["[CLS]"] + [t for t in re.split(r"(\[MASK\])|", text) if t] + ["[SEP]"]]
        with torch.no_grad():
            hidden = model.encode(torch.tensor([ids]), torch.ones(1, len(ids), dtype=torch.long))
            logits = model.target.mlm_logits(hidden[0, positions])
        return [" ".join(tokens[i] for i in row) for row in logits.topk(3, dim=-1).indices.tolist()]

    assert blocks[0][1] == "Predicted answer: " + top3(lines[0], [3])[0]
    first, second = top3(lines[1], [3, 5])
    assert blocks[1][1:] == ["Predicted answer 1: " + first, "Predicted answer 2: " + second]


# -------------------------------------------------------------------------------------------- generation

def test_generate_lm_cache_and_recompute_agree(tmp_path, vocab, capsys):
    vocab_path, tokens = vocab
    model = save_tiny(tmp_path / "gpt2.bin", GPT2, len(tokens))
    (tmp_path / "prompt.txt").write_text("今天天气\n这一行不是提示\n", encoding="utf-8")
    outputs = []
    for extra in ([], ["--no_cache"]):
        run("generate_lm", "--load_model_path", tmp_path / "gpt2.bin", "--vocab_path", vocab_path, "--test_path",
            tmp_path / "prompt.txt", "--prediction_path", tmp_path / "out.txt", "--seq_length", 20, "--greedy", *extra)
        outputs.append((tmp_path / "out.txt").read_text(encoding="utf-8"))
    assert outputs[0] == outputs[1]
    prompt_line, text = outputs[0].splitlines()
    assert prompt_line == "今天天气" and text.startswith("今天天气")
    ids = [tokens.index(token) for token in ["[CLS]", "今", "天", "天", "气"]]
    expected = generate_lm(model, ids, 20, Sampling(greedy=True)).tokens[0]
    assert len(expected) == 15 and text == detokenize(list("今天天气") + [tokens[i] for i in expected])

    # Sampling is reproducible with --seed and differs from greedy decoding.
    sampled = []
    for _ in range(2):
        run("generate_lm", "--load_model_path", tmp_path / "gpt2.bin", "--vocab_path", vocab_path, "--test_path",
            tmp_path / "prompt.txt", "--prediction_path", tmp_path / "s.txt", "--seq_length", 30, "--top_k", 0,
            "--top_p", 0.95, "--temperature", 1.5, "--seed", 3)
        sampled.append((tmp_path / "s.txt").read_text(encoding="utf-8"))
    assert sampled[0] == sampled[1]


def test_generate_lm_tied_checkpoint_without_output_layer(tmp_path, vocab):
    """A GPT-2 checkpoint may store the tied output matrix only as the word embedding."""
    vocab_path, tokens = vocab
    save_tiny(tmp_path / "gpt2.bin", GPT2, len(tokens))
    state = torch.load(tmp_path / "gpt2.bin", weights_only=True)
    del state["target.output_layer.weight"]
    torch.save(state, tmp_path / "gpt2.bin")
    (tmp_path / "prompt.txt").write_text("我们\n", encoding="utf-8")
    run("generate_lm", "--load_model_path", tmp_path / "gpt2.bin", "--vocab_path", vocab_path, "--test_path",
        tmp_path / "prompt.txt", "--prediction_path", tmp_path / "out.txt", "--seq_length", 10, "--greedy")
    assert (tmp_path / "out.txt").read_text(encoding="utf-8").splitlines()[0] == "我们"


def test_generate_lm_lstm_and_errors(tmp_path, vocab, capsys):
    vocab_path, tokens = vocab
    save_tiny(tmp_path / "lstm.bin", LSTM, len(tokens))
    (tmp_path / "prompt.txt").write_text("我们\n", encoding="utf-8")
    base = ["--load_model_path", tmp_path / "lstm.bin", "--vocab_path", vocab_path, "--test_path",
            tmp_path / "prompt.txt", "--prediction_path", tmp_path / "out.txt"]
    run("generate_lm", *base, "--seq_length", 12, "--top_k", 5)
    assert (tmp_path / "out.txt").read_text(encoding="utf-8").splitlines()[1].startswith("我们")
    message = run_fails(capsys, "generate_lm", *base, "--seq_length", 3)
    assert "prompt.txt:1:" in message and "no room" in message
    assert "--top_p" in run_fails(capsys, "generate_lm", *base, "--top_p", 2)
    save_tiny(tmp_path / "mlm.bin", MLM, len(tokens))
    assert "--target lm" in run_fails(capsys, "generate_lm", "--load_model_path", tmp_path / "mlm.bin", *base[2:],
                                      "--seq_length", 20)
    (tmp_path / "empty.txt").write_text("", encoding="utf-8")
    assert "empty.txt" in run_fails(capsys, "generate_lm", *base[:4], "--test_path", tmp_path / "empty.txt",
                                    "--prediction_path", tmp_path / "x.txt")


def seq2seq_args(model_path, vocab_path, test_path, out_path, *extra):
    return ["--load_model_path", model_path, "--vocab_path", vocab_path, "--test_path", test_path,
            "--prediction_path", out_path, "--tgt_seq_length", 12, "--greedy", *extra]


def test_generate_seq2seq_t5_batches_cache_and_alias(tmp_path, vocab, monkeypatch):
    vocab_path, tokens = vocab
    save_tiny(tmp_path / "t5.bin", T5, len(tokens))
    sources = ["今天天气很好", "自然语言处理", "hello world", "好"]
    (tmp_path / "src.txt").write_text("\n".join(sources) + "\n", encoding="utf-8")
    results = []
    for extra in (["--batch_size", 4], ["--batch_size", 1], ["--batch_size", 3, "--no_cache"]):
        run("generate_seq2seq", *seq2seq_args(tmp_path / "t5.bin", vocab_path, tmp_path / "src.txt",
                                              tmp_path / "out.txt", *extra))
        results.append((tmp_path / "out.txt").read_text(encoding="utf-8"))
    assert results[0] == results[1] == results[2]
    assert len(results[0].splitlines()) == len(sources) and any(results[0].splitlines())

    # generate_mt.py: the original name and flags.
    monkeypatch.setattr(sys, "argv", ["generate_mt.py", "--pretrained_model_path", str(tmp_path / "t5.bin"),
                                      "--vocab_path", str(vocab_path), "--input_path", str(tmp_path / "src.txt"),
                                      "--translation_path", str(tmp_path / "mt.txt"), "--tgt_seq_length", "12",
                                      "--greedy", "--subword_type", "none", "--subencoder_type", "avg",
                                      "--sub_vocab_path", str(vocab_path)])
    runpy.run_path(os.path.join(REPO, "scripts", "generate_mt.py"), run_name="__main__")
    assert (tmp_path / "mt.txt").read_text(encoding="utf-8") == results[0]


def test_generate_mt_refuses_subword_encoders(tmp_path, vocab, capsys):
    vocab_path, tokens = vocab
    save_tiny(tmp_path / "t5.bin", T5, len(tokens))
    (tmp_path / "src.txt").write_text("好\n", encoding="utf-8")
    with pytest.raises(SystemExit) as exit_info:
        run("generate_seq2seq", *seq2seq_args(tmp_path / "t5.bin", vocab_path, tmp_path / "src.txt",
                                              tmp_path / "out.txt", "--subword_type", "char"))
    assert exit_info.value.code != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--subword_type char is not supported" in err, err
    assert not (tmp_path / "out.txt").exists()


def test_generate_seq2seq_with_target_vocabulary(tmp_path, vocab, capsys):
    vocab_path, tokens = vocab
    tgt_tokens = SPECIAL_TOKENS + ["hello", "world", "good", "day", "un", "##s", ",", "."]
    tgt_vocab = write_vocab(tmp_path / "tgt_vocab.txt", tgt_tokens)
    save_tiny(tmp_path / "s2s.bin", SEQ2SEQ, len(tokens), tgt_vocab_size=len(tgt_tokens))
    (tmp_path / "src.txt").write_text("今天天气很好\n我们去公园\n", encoding="utf-8")
    run("generate_seq2seq", *seq2seq_args(tmp_path / "s2s.bin", vocab_path, tmp_path / "src.txt",
                                          tmp_path / "out.txt", "--tgt_vocab_path", tgt_vocab, "--top_k", 3))
    lines = (tmp_path / "out.txt").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    allowed = set("".join(t.replace("##", "") for t in tgt_tokens[5:]) + " [UNKCLSMASEP]")
    assert all(set(line) <= allowed for line in lines)
    # Without --tgt_vocab_path the decoder's output size does not match: a clear error, no traceback.
    message = run_fails(capsys, "generate_seq2seq", *seq2seq_args(tmp_path / "s2s.bin", vocab_path,
                                                                  tmp_path / "src.txt", tmp_path / "x.txt"))
    assert "s2s.bin" in message and "shape" in message


# --------------------------------------------------------------------------------------- vocabulary adapter

def test_dynamic_vocab_adapter_mean_of_pieces(tmp_path, vocab, capsys):
    vocab_path, tokens = vocab
    model = save_tiny(tmp_path / "old.bin", MLM, len(tokens))
    kept = [token for token in tokens if token not in ("day", "吧")]
    new_tokens = kept + ["hellos", "unbelievable", "##ss", "天气"]
    new_vocab = write_vocab(tmp_path / "new_vocab.txt", new_tokens)
    run("dynamic_vocab_adapter", "--old_model_path", tmp_path / "old.bin", "--old_vocab_path", vocab_path,
        "--new_vocab_path", new_vocab, "--new_model_path", tmp_path / "new.bin")
    assert "4 composed" in capsys.readouterr().out
    new = torch.load(tmp_path / "new.bin", weights_only=True)
    old = {key: value.detach() for key, value in model.state_dict().items()}
    pieces = {"hellos": ["hello", "##s"], "unbelievable": ["un", "##believ", "##able"], "##ss": ["##s", "##s"],
              "天气": ["天", "气"]}
    for key in ("embedding.word_embedding.weight", "target.mlm_linear_2.weight", "target.mlm_linear_2.bias"):
        assert new[key].shape[0] == len(new_tokens)
        for i, token in enumerate(new_tokens):
            rows = [tokens.index(piece) for piece in pieces.get(token, [token])]
            assert torch.allclose(new[key][i], old[key][rows].mean(dim=0), atol=1e-6), (key, token)
    assert json.loads((tmp_path / "new.bin.config.json").read_text())["vocab_size"] == len(new_tokens)
    run("check_model", "--input_model_path", tmp_path / "new.bin", "--vocab_path", new_vocab)
    assert "OK: all" in capsys.readouterr().out


def test_dynamic_vocab_adapter_lm_output_layer_and_tying(tmp_path, vocab):
    vocab_path, tokens = vocab
    model = save_tiny(tmp_path / "lm.bin", dict(GPT2, tie_weights=False, has_lmtarget_bias=True), len(tokens))
    save_tiny(tmp_path / "tied.bin", GPT2, len(tokens))
    new_tokens = tokens + ["goods"]
    new_vocab = write_vocab(tmp_path / "new_vocab.txt", new_tokens)
    for name in ("lm", "tied"):
        run("dynamic_vocab_adapter", "--old_model_path", tmp_path / f"{name}.bin", "--old_vocab_path", vocab_path,
            "--new_vocab_path", new_vocab, "--new_model_path", tmp_path / f"{name}_new.bin")
    new = torch.load(tmp_path / "lm_new.bin", weights_only=True)
    old = model.state_dict()
    good, s = tokens.index("good"), tokens.index("##s")
    for key in ("target.output_layer.weight", "target.output_layer.bias", "embedding.word_embedding.weight"):
        assert torch.allclose(new[key][-1], (old[key][good] + old[key][s]) / 2, atol=1e-6)
        assert torch.equal(new[key][:-1], old[key])
    tied = torch.load(tmp_path / "tied_new.bin", weights_only=True)
    assert tied["target.output_layer.weight"].data_ptr() == tied["embedding.word_embedding.weight"].data_ptr()
