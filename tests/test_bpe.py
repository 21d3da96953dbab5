"""--tokenizer bpe: byte-level BPE ids equal transformers' GPT2Tokenizer / RobertaTokenizer on files
written by the ``tokenizers`` library from a BPE trained here; converted GPT-2 generates and converted
RoBERTa fine-tunes with it."""
import json
import os
import random
import subprocess
import sys
from argparse import Namespace

import pytest
import torch

from tests.conftest import REPO
from tests.finetune_fixtures import run_script
from uer.tokenizers import build_tokenizer
from uer.tokenizers.bpe import bpe_detokenize, load_bpe, read_merges
from uer.tokenizers.vocab import Vocab
from uer.utils.errors import UserInputError

transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")
pytestmark = pytest.mark.usefixtures("one_thread")

SAMPLE = [
    "Hello world! It's a test, isn't it? I'll see you'd've done 3.14159 things.",
    "这本书很好看，我非常喜欢。作者写得真好！",
    "Emoji 😀🎉👍🏽 and flags 🇨🇳 🇫🇷, a family 👨‍👩‍👧",
    "Café naïve résumé façade Ærøskøbing, e\u0301 combining",
    "  leading   spaces\tand\ttabs\n\nnewlines\r\n  trailing   ",
    "numbers ½ ² ① Ⅷ ٣ 12,345 and under_score __init__ $9.99",
    "mixed中文English混合text123数字",
    "Привет мир. Γειά σου. مرحبا بالعالم. नमस्ते",
    "a\u00a0nbsp\u3000ideographic\u2028line\x1cfile-separator",
    "<s>special</s> tokens <mask> and <|endoftext|> pad<pad> unk <unk>!",
    "",
    " ",
]
ROBERTA_SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
GPT2_SPECIALS = ["<|endoftext|>"]


def random_texts(count, seed=0):
    """Random strings over scripts, symbols, numbers, marks, white space and emoji."""
    pools = [range(0x20, 0x7f), range(0xa0, 0x250), range(0x300, 0x370), range(0x2000, 0x2070),
             range(0x2150, 0x2190), range(0x2460, 0x24ff), range(0x3000, 0x3040), range(0x4e00, 0x4e80),
             range(0x1f300, 0x1f650), range(0x0, 0x20), range(0x660, 0x6ff), range(0x900, 0x980)]
    rng = random.Random(seed)
    return ["".join(chr(rng.choice(rng.choice(pools))) for _ in range(rng.randint(1, 40))) for _ in range(count)]


@pytest.fixture(scope="module")
def bpe_files(tmp_path_factory):
    """vocab.json + merges.txt of two BPEs trained by ``tokenizers`` on the sample: RoBERTa's special
    tokens, and GPT-2's single <|endoftext|>."""
    root = tmp_path_factory.mktemp("bpe")
    corpus = SAMPLE * 3 + ["the quick brown fox jumps over the lazy dog " * 5, "书 好看 喜欢 作者 " * 5]
    folders = {}
    for name, specials in (("roberta", ROBERTA_SPECIALS), ("gpt2", GPT2_SPECIALS)):
        trainer = tokenizers.ByteLevelBPETokenizer()
        trainer.train_from_iterator(corpus, vocab_size=600, min_frequency=1, special_tokens=specials,
                                    show_progress=False)
        folder = root / name
        folder.mkdir()
        trainer.save_model(str(folder))
        folders[name] = str(folder)
    return folders


def ours(folder):
    vocab = Vocab.load(os.path.join(folder, "vocab.json"))
    return load_bpe(vocab, os.path.join(folder, "merges.txt")), vocab


@pytest.mark.parametrize("name,hf_class", [("gpt2", "GPT2Tokenizer"), ("roberta", "RobertaTokenizer")])
def test_ids_equal_transformers(bpe_files, name, hf_class):
    hf = getattr(transformers, hf_class).from_pretrained(bpe_files[name])
    bpe, vocab = ours(bpe_files[name])
    texts = SAMPLE + random_texts(300)
    mismatches = [text for text in texts
                  if [vocab.w2i[t] for t in bpe.tokenize(text)] != hf(text, add_special_tokens=False)["input_ids"]]
    assert mismatches == []
    for text in SAMPLE:
        ids = [vocab.w2i[t] for t in bpe.tokenize(text)]
        assert bpe.decode(bpe.tokenize(text)) == hf.decode(ids) == text  # bytes come back exactly
    if name == "roberta":  # our [CLS] text [SEP] is RoBERTa's <s> text </s>
        tokenizer = build_tokenizer(argparse_args(bpe_files[name]))
        for text in SAMPLE:
            ids = tokenizer.convert_tokens_to_ids(["[CLS]", *tokenizer.tokenize(text), "[SEP]"])
            assert ids == hf(text)["input_ids"]


def argparse_args(folder, **extra):
    return Namespace(tokenizer="bpe", vocab_path=os.path.join(folder, "vocab.json"), spm_model_path=None,
                     merges_path=os.path.join(folder, "merges.txt"), **extra)


def test_special_token_roles(bpe_files):
    roberta = Vocab.load(os.path.join(bpe_files["roberta"], "vocab.json"))
    assert [roberta.w2i[t] for t in ("[CLS]", "[PAD]", "[SEP]", "[UNK]", "[MASK]")] == [0, 1, 2, 3, 4]
    gpt2 = Vocab.load(os.path.join(bpe_files["gpt2"], "vocab.json"))
    assert gpt2.w2i["[CLS]"] == gpt2.w2i["[SEP]"] == gpt2.w2i["<|endoftext|>"] == 0
    assert "[PAD]" not in gpt2 and "[MASK]" not in gpt2 and len(gpt2) == 600
    assert gpt2.get("never seen") == 0  # GPT-2's unknown token is <|endoftext|>


def test_a_gpt2_vocabulary_with_a_merged_s_tag_keeps_gpt2_roles(tmp_path):
    """GPT-2's merges may form an ordinary token "<s>" (HTML strike-through); only RoBERTa's three
    tokens <s>, </s>, <pad> together make the RoBERTa roles."""
    from uer.tokenizers.bpe import ByteLevelBPE

    path = tmp_path / "vocab.json"
    path.write_text(json.dumps({"<": 0, "s": 1, ">": 2, "<s": 3, "<s>": 4, "<|endoftext|>": 5}), encoding="utf-8")
    vocab = Vocab.load(str(path))
    assert vocab.aliases == {"[CLS]": "<|endoftext|>", "[SEP]": "<|endoftext|>", "[UNK]": "<|endoftext|>"}
    bpe = ByteLevelBPE(vocab, {("<", "s"): 0, ("<s", ">"): 1})
    assert bpe.tokenize("<s><|endoftext|>") == ["<", "s", ">", "<|endoftext|>"]  # "<s>" is no special token


def test_cut_character_decodes_to_replacement_like_transformers(bpe_files):
    hf = transformers.GPT2Tokenizer.from_pretrained(bpe_files["gpt2"])
    bpe, vocab = ours(bpe_files["gpt2"])
    tokens = bpe.tokenize("书😀")
    byte_chars = "".join(tokens)[:-1]  # drop the emoji's last byte
    assert bpe_detokenize([byte_chars]) == hf.convert_tokens_to_string([byte_chars]) == "书\ufffd"


def test_bad_files_are_user_errors(bpe_files, tmp_path):
    merges = tmp_path / "merges.txt"
    merges.write_text("#version: 0.2\nĠ t\nthree parts here\n", encoding="utf-8")
    with pytest.raises(UserInputError, match=r"merges.txt:3: expected a merge"):
        read_merges(str(merges))
    vocab_json = tmp_path / "vocab.json"
    vocab_json.write_text(json.dumps({"a": 0, "b": 2}), encoding="utf-8")
    with pytest.raises(UserInputError, match=r"vocab.json: the ids of a vocab.json must be the integers 0..1"):
        Vocab.load(str(vocab_json))
    vocab_json.write_text('{"a": 0,\n "b": }', encoding="utf-8")
    with pytest.raises(UserInputError, match=r"vocab.json:2: not valid JSON"):
        Vocab.load(str(vocab_json))
    with pytest.raises(UserInputError, match="--tokenizer bpe needs --merges_path"):
        build_tokenizer(Namespace(tokenizer="bpe", vocab_path=os.path.join(bpe_files["gpt2"], "vocab.json")))


def convert_from_hf(kind, hf_model, tmp_path):
    """``hf_model`` saved by transformers, then scripts/convert_<kind>_from_huggingface_to_uer.py."""
    hf_model.save_pretrained(tmp_path / "hf")
    out = str(tmp_path / f"{kind}.bin")
    code = run_converter(f"convert_{kind}_from_huggingface_to_uer", "--input_model_path", str(tmp_path / "hf"),
                         "--output_model_path", out)
    assert code == 0
    return out


def run_converter(name, *args):
    from tests.test_conversion_scripts import run_script as run_top_level

    return run_top_level(name, *args)


def test_converted_gpt2_generates_what_transformers_generates(bpe_files, tmp_path):
    folder = bpe_files["gpt2"]
    torch.manual_seed(0)
    hf = transformers.GPT2LMHeadModel(transformers.GPT2Config(vocab_size=600, n_embd=32, n_layer=2, n_head=4,
                                                              n_positions=64, bos_token_id=0, eos_token_id=0))
    with torch.no_grad():  # matrices of a larger spread, so that the greedy tokens vary
        for parameter in hf.parameters():
            if parameter.dim() > 1:
                parameter.normal_(0, 0.3)
    model_path = convert_from_hf("gpt2", hf.eval(), tmp_path)
    prompt = "Hello 世界, café 😀"
    (tmp_path / "prompt.txt").write_text(prompt + "\n", encoding="utf-8")
    run_script("scripts/generate_lm.py", [
        "--load_model_path", model_path, "--tokenizer", "bpe", "--vocab_path", os.path.join(folder, "vocab.json"),
        "--merges_path", os.path.join(folder, "merges.txt"), "--test_path", tmp_path / "prompt.txt",
        "--prediction_path", tmp_path / "out.txt", "--seq_length", "40", "--greedy"])
    hf_tokenizer = transformers.GPT2Tokenizer.from_pretrained(folder)
    ids = [hf_tokenizer.eos_token_id] + hf_tokenizer(prompt)["input_ids"]  # our [CLS] is <|endoftext|>
    with torch.no_grad():
        expected = hf.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                               max_new_tokens=40 - len(ids), do_sample=False, pad_token_id=0)[0].tolist()
    lines = (tmp_path / "out.txt").read_text(encoding="utf-8").split("\n")
    assert lines[0] == prompt
    assert lines[1] == hf_tokenizer.decode(expected[1:]) and lines[1].startswith(prompt)
    assert len(set(expected[len(ids):])) > 3  # the comparison is not a run of one token


@pytest.fixture(scope="module")
def roberta(bpe_files, tmp_path_factory):
    """A random tiny RobertaForMaskedLM saved by transformers and converted by our script."""
    torch.manual_seed(0)
    hf = transformers.RobertaForMaskedLM(transformers.RobertaConfig(
        vocab_size=600, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
        max_position_embeddings=66, type_vocab_size=1, pad_token_id=1)).eval()
    return hf, convert_from_hf("roberta", hf, tmp_path_factory.mktemp("roberta"))


def test_converted_roberta_fills_masks_like_the_transformers_pipeline(bpe_files, roberta):
    import uer

    hf, model_path = roberta
    folder = bpe_files["roberta"]
    model = uer.load(model_path, tokenizer="bpe", vocab_path=os.path.join(folder, "vocab.json"),
                     merges_path=os.path.join(folder, "merges.txt"), device="cpu")
    fill = transformers.pipeline("fill-mask", model=hf, tokenizer=transformers.RobertaTokenizer.from_pretrained(folder),
                                 top_k=5)
    for text in ("Hello <mask>! 这本书很<mask>看", "Café <mask>😀 and\nnew lines"):
        ours = model.fill_mask(text, topn=5)
        theirs = fill(text)
        for blank, expected in zip(ours, theirs if isinstance(theirs[0], list) else [theirs]):
            assert [model.tokenizer.vocab.w2i[token] for token, _ in blank] == [e["token"] for e in expected]
            assert max(abs(p - e["score"]) for (_, p), e in zip(blank, expected)) < 1e-5


def test_converted_roberta_fine_tunes_with_run_classifier(bpe_files, roberta, tmp_path, caplog):
    folder = bpe_files["roberta"]
    model_path = roberta[1]
    rng = random.Random(0)
    words = {0: ["awful", "boring", "糟糕", "😞"], 1: ["great", "lovely", "很好", "😀"]}
    for name, n in (("train", 160), ("dev", 40)):
        rows = ["label\ttext_a"]
        for _ in range(n):
            label = rng.randint(0, 1)
            rows.append(f"{label}\tthe book was {rng.choice(words[label])} and {rng.choice(['long', 'short'])}")
        (tmp_path / f"{name}.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    caplog.set_level("INFO")
    run_script("run_classifier.py", [
        "--pretrained_model_path", model_path, "--tokenizer", "bpe", "--vocab_path", os.path.join(folder, "vocab.json"),
        "--merges_path", os.path.join(folder, "merges.txt"), "--train_path", tmp_path / "train.tsv",
        "--dev_path", tmp_path / "dev.tsv", "--output_model_path", tmp_path / "classifier.bin", "--epochs_num", "6",
        "--batch_size", "16", "--learning_rate", "1e-3", "--seq_length", "32", "--device", "cpu"])
    accuracies = [float(r.getMessage().split()[2]) for r in caplog.records
                  if r.getMessage().startswith("Acc. (Correct/Total)")]
    assert accuracies and max(accuracies) >= 0.9


def test_preprocess_reads_bpe_like_roberta(bpe_files, tmp_path, capsys):
    from uer.data.format import DatasetFile

    folder = bpe_files["roberta"]
    lines = [text.replace("\n", " ").strip() for text in SAMPLE[:8]]
    (tmp_path / "corpus.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    bpe_args = ["--vocab_path", os.path.join(folder, "vocab.json"), "--merges_path", os.path.join(folder, "merges.txt"),
                "--tokenizer", "bpe", "--corpus_path", tmp_path / "corpus.txt", "--no_progress"]
    run_script("preprocess.py", [*bpe_args, "--dataset_path", tmp_path / "lm.pt", "--target", "lm",
                                 "--seq_length", "512", "--processes_num", "2"])
    data = DatasetFile(str(tmp_path / "lm.pt"))
    hf = transformers.RobertaTokenizer.from_pretrained(folder)
    assert [data.ragged("src").row(i).tolist() for i in range(len(data))] == [hf(line)["input_ids"] for line in lines]
    # GPT-2's vocabulary has no mask token: a masked target says so instead of masking with <|endoftext|>.
    gpt2 = bpe_files["gpt2"]
    with pytest.raises(SystemExit) as stop:
        run_script("preprocess.py", [*bpe_args[4:], "--vocab_path", os.path.join(gpt2, "vocab.json"),
                                     "--merges_path", os.path.join(gpt2, "merges.txt"),
                                     "--dataset_path", tmp_path / "mlm.pt", "--target", "mlm"])
    assert stop.value.code == 2 and "lacks [MASK], needed for --target mlm" in capsys.readouterr().err


def test_speed_benchmark_runs():
    result = subprocess.run([sys.executable, os.path.join(REPO, "benchmarks", "bpe_speed.py"), "--lines", "30",
                             "--vocab_size", "400"], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert "texts whose ids differ: 0 of 90" in result.stdout


@pytest.mark.parametrize("kind", ["gpt2", "roberta"])
def test_conversions_carry_the_bpe_files_both_ways(bpe_files, kind, tmp_path):
    """A Hugging Face folder with vocab.json + merges.txt -> UER (the sidecar records the two files)
    -> a Hugging Face folder again, with no vocabulary flag, whose tokenizer gives the same ids."""
    import json
    import shutil

    source = tmp_path / "hf"
    torch.manual_seed(0)
    if kind == "gpt2":
        config = transformers.GPT2Config(vocab_size=600, n_embd=32, n_layer=2, n_head=4, n_positions=64)
        transformers.GPT2LMHeadModel(config).save_pretrained(source)
    else:
        config = transformers.RobertaConfig(vocab_size=600, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                            intermediate_size=64, max_position_embeddings=66, pad_token_id=1)
        transformers.RobertaForMaskedLM(config).save_pretrained(source)
    for name in ("vocab.json", "merges.txt"):
        shutil.copy(os.path.join(bpe_files[kind], name), source / name)
    converted = str(tmp_path / f"{kind}.bin")
    assert run_converter(f"convert_{kind}_from_huggingface_to_uer", "--input_model_path", str(source),
                         "--output_model_path", converted) == 0
    recorded = json.loads(open(converted + ".config.json", encoding="utf-8").read())["vocab_files"]
    assert recorded == {"vocab_path": str(source / "vocab.json"), "merges_path": str(source / "merges.txt")}
    back = tmp_path / "back"
    assert run_converter(f"convert_{kind}_from_uer_to_huggingface", "--input_model_path", converted,
                         "--output_model_path", str(back)) == 0
    for name in ("vocab.json", "merges.txt"):
        assert (back / name).read_text(encoding="utf-8") == (source / name).read_text(encoding="utf-8")
    reference_class = transformers.GPT2Tokenizer if kind == "gpt2" else transformers.RobertaTokenizer
    expected = reference_class.from_pretrained(bpe_files[kind])
    exported = transformers.AutoTokenizer.from_pretrained(str(back))
    for text in SAMPLE:
        assert exported(text)["input_ids"] == expected(text)["input_ids"]
