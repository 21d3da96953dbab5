"""Hugging Face model folders given as --pretrained_model_path / --load_model_path: read in place
(options from config.json, weights through the converters' tables, vocabulary from the folder),
fine-tuning exactly as from the converted .bin."""
import ast
import json
import os
import re
from pathlib import Path

import pytest
import torch

from tests.finetune_fixtures import LETTERS, REPO, SPECIALS, run_script, write_classification, write_common
from tests.test_conversion_scripts import CASES, perturb, save_hf
from tests.test_conversion_scripts import run_script as run_converter
from tests.test_layering import import_graph, reachable
from uer.conversion.hf_folder import read_hf_folder
from uer.model_loader import load_state_dict_file
from uer.utils.errors import UserInputError

transformers = pytest.importorskip("transformers")
pytestmark = pytest.mark.usefixtures("one_thread")
VOCAB = len(SPECIALS) + len(LETTERS)
REPO_PATH = Path(REPO)
SIZES = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37)
MODELS = {
    "bert": ("bert", lambda: transformers.BertForMaskedLM(transformers.BertConfig(
        vocab_size=VOCAB, max_position_embeddings=64, **SIZES))),
    "roberta": ("roberta", lambda: transformers.RobertaForMaskedLM(transformers.RobertaConfig(
        vocab_size=VOCAB, max_position_embeddings=66, type_vocab_size=1, **SIZES))),
    "albert": ("albert", lambda: transformers.AlbertForMaskedLM(transformers.AlbertConfig(
        vocab_size=VOCAB, embedding_size=16, max_position_embeddings=64, **SIZES))),
    "gpt2": ("gpt2", lambda: transformers.GPT2LMHeadModel(transformers.GPT2Config(
        vocab_size=VOCAB, n_embd=32, n_layer=2, n_head=4, n_positions=64, bos_token_id=VOCAB - 1,
        eos_token_id=VOCAB - 1))),
}


def logged(caplog) -> str:
    return "\n".join(record.getMessage() for record in caplog.records)


def fine_tune(tmp_path, caplog, pretrained: str, name: str, *extra: str):
    """run_classifier.py for one epoch (3 steps, reported each); (step losses, saved weights, log)."""
    paths = write_common(str(tmp_path / "data"))
    for split, seed in (("train", 1), ("dev", 2)):
        paths[split] = str(tmp_path / "data" / f"{split}.tsv")
        if not os.path.exists(paths[split]):
            write_classification(paths[split], 48 if split == "train" else 16, seed)
    output = str(tmp_path / f"{name}.bin")
    caplog.clear()
    run_script("run_classifier.py", ["--pretrained_model_path", pretrained, "--vocab_path", paths["vocab"],
                                     "--tokenizer", "char", "--train_path", paths["train"], "--dev_path", paths["dev"],
                                     "--output_model_path", output, "--epochs_num", "1", "--batch_size", "16",
                                     "--seq_length", "32", "--report_steps", "1", "--learning_rate", "1e-3",
                                     "--device", "cpu", *extra])
    text = logged(caplog)
    losses = [float(v) for v in re.findall(r"Training steps: \d+, Avg loss: ([\d.]+)", text)]
    return losses, load_state_dict_file(output), text


@pytest.mark.parametrize("name", list(MODELS))
def test_fine_tuning_from_a_folder_equals_fine_tuning_from_the_converted_bin(name, tmp_path, caplog, capsys):
    script, make = MODELS[name]
    folder = tmp_path / "hf"
    perturb(make()).save_pretrained(folder)
    converted = str(tmp_path / "converted.bin")
    assert run_converter(f"convert_{script}_from_huggingface_to_uer", "--input_model_path", str(folder),
                         "--output_model_path", converted, "--no_check") == 0
    capsys.readouterr()
    from_bin, bin_weights, _ = fine_tune(tmp_path, caplog, converted, "from_bin")
    from_folder, folder_weights, log = fine_tune(tmp_path, caplog, str(folder), "from_folder")
    assert f"Hugging Face {name} folder" in log and "tensors converted to UER names (2 layers)" in log
    assert len(from_folder) == 3 and from_folder == from_bin
    assert folder_weights.keys() == bin_weights.keys()
    assert all(torch.equal(folder_weights[key], bin_weights[key]) for key in bin_weights)
    print(f"{name}: first-step loss {from_folder[0]:.3f} from the folder, {from_bin[0]:.3f} from the .bin")


def test_folder_options_vocabulary_task_head_and_mistakes(tmp_path, caplog, capsys):
    """A fine-tuned classifier exported with its tokenizer predicts from the folder alone as from the
    .bin; a typed flag against config.json and a hub id are one-line errors."""
    folder = tmp_path / "hf"
    perturb(MODELS["bert"][1]()).save_pretrained(folder)
    _, _, _ = fine_tune(tmp_path, caplog, str(folder), "classifier")
    paths = write_common(str(tmp_path / "data"))
    assert run_converter("convert_bert_text_classification_from_uer_to_huggingface", "--input_model_path",
                         str(tmp_path / "classifier.bin"), "--output_model_path", str(tmp_path / "hf_cls"),
                         "--vocab_path", paths["vocab"], "--no_check") == 0
    test = str(tmp_path / "data" / "test.tsv")
    write_classification(test, 16, 3, with_labels=False)
    predictions = {}
    for source, extra in (("bin", ["--vocab_path", paths["vocab"]]), ("folder", [])):
        model = str(tmp_path / "classifier.bin") if source == "bin" else str(tmp_path / "hf_cls")
        output = str(tmp_path / f"prediction_{source}.tsv")
        run_script("inference/run_classifier_infer.py", ["--load_model_path", model, "--test_path", test,
                                                         "--prediction_path", output, "--tokenizer", "char",
                                                         "--output_logits", "--seq_length", "32", "--device", "cpu",
                                                         *extra])
        predictions[source] = open(output, encoding="utf-8").read()
    assert predictions["folder"] == predictions["bin"] and len(predictions["bin"].splitlines()) == 17
    assert "vocabulary: " + str(tmp_path / "hf_cls" / "vocab.txt") in logged(caplog)

    from uer.utils.config import parse_args
    from uer.finetune.options import finetune_parser

    base = ["--train_path", test, "--dev_path", test, "--pretrained_model_path", str(folder)]
    args = parse_args(finetune_parser("test"), base + ["--dropout", "0.0"])
    assert (args.layers_num, args.hidden_size, args.feedforward_size, args.dropout) == (2, 32, 37, 0.0)
    assert args.target == "mlm" and args.vocab_path is None  # save_pretrained writes no tokenizer
    with pytest.raises(UserInputError, match=r"--layers_num 3 contradicts .*config.json, whose model has "
                                             r"layers_num 2"):
        parse_args(finetune_parser("test"), base + ["--layers_num", "3"])
    for hub_id in ("bert-base-chinese", "google/bert_uncased"):
        with pytest.raises(UserInputError, match="uer never downloads.*huggingface-cli download"):
            parse_args(finetune_parser("test"), ["--train_path", test, "--dev_path", test,
                                                 "--pretrained_model_path", hub_id])


@pytest.mark.parametrize("name", list(CASES))
def test_reading_a_folder_equals_converting_it(name, tmp_path, capsys):
    """Every architecture and task head the converters know: the folder read in place gives the
    converter's weights (bit for bit) and sidecar options."""
    folder = save_hf(perturb(CASES[name].make()), tmp_path / "hf")
    converted = str(tmp_path / "converted.bin")
    assert run_converter(f"convert_{CASES[name].script}_from_huggingface_to_uer", "--input_model_path", str(folder),
                         "--output_model_path", converted, "--no_check") == 0
    capsys.readouterr()
    read = read_hf_folder(str(folder))
    expected = load_state_dict_file(converted)
    assert read.state.keys() == expected.keys()
    assert all(torch.equal(read.state[key], expected[key]) for key in expected)
    assert read.options == json.load(open(converted + ".config.json", encoding="utf-8"))
    assert read.vocab_path is None and read.report[-1] == "vocabulary: none in the folder (give --vocab_path)"


def test_check_model_reads_a_folder(tmp_path, capsys):
    folder = tmp_path / "hf"
    perturb(MODELS["bert"][1]()).save_pretrained(folder)
    write_common(str(folder))  # vocab.txt of the folder's 31 tokens
    assert run_converter("check_model", "--input_model_path", str(folder)) == 0
    out = capsys.readouterr().out
    assert "target mlm from" in out and "OK: all 43 tensors load strictly" in out


def test_every_script_resolving_options_registers_the_folder_reader():
    """parse_args reads a folder's config.json through the reader uer.model_loader registers, so a
    script that resolves options with it must import the model loader (directly or not)."""
    graph = import_graph()
    # The programs live in uer/cli/ (the scripts at the repository root import their main from there).
    scripts = [path for path in sorted((REPO_PATH / "uer" / "cli").glob("*.py"))
               if "parse_args(" in path.read_text(encoding="utf-8")
               and "uer.utils.config import" in path.read_text(encoding="utf-8")]
    assert len(scripts) >= 15
    for script in scripts:
        imported = {alias.name if isinstance(node, ast.Import) else node.module
                    for node in ast.walk(ast.parse(script.read_text(encoding="utf-8")))
                    if isinstance(node, (ast.Import, ast.ImportFrom)) for alias in node.names}
        reached = set(imported)
        for module in imported:
            reached |= reachable(graph, module)
        assert "uer.model_loader" in reached, script


def test_pretraining_from_a_folder_equals_pretraining_from_the_converted_bin(tmp_path, capsys, caplog):
    import pretrain
    from tests.test_data_helpers import make_vocab
    from tests.test_pretrain import dataset_for

    vocab = make_vocab(tmp_path)
    size = sum(1 for _ in open(vocab, encoding="utf-8"))
    folder = tmp_path / "hf"
    perturb(transformers.BertForMaskedLM(transformers.BertConfig(
        vocab_size=size, max_position_embeddings=128, **SIZES))).save_pretrained(folder)
    converted = str(tmp_path / "converted.bin")
    assert run_converter("convert_bert_from_huggingface_to_uer", "--input_model_path", str(folder),
                         "--output_model_path", converted, "--no_check") == 0
    dataset = dataset_for(tmp_path, "mlm", vocab)
    caplog.set_level("INFO")
    saved = {}
    for name, source in (("bin", converted), ("folder", str(folder))):
        output = str(tmp_path / name / "model.bin")
        pretrain.main(["--dataset_path", dataset, "--vocab_path", vocab, "--pretrained_model_path", source,
                       "--output_model_path", output, "--total_steps", "2", "--batch_size", "4",
                       "--learning_rate", "1e-3", "--report_steps", "1", "--device", "cpu", "--dropout", "0"])
        saved[name] = load_state_dict_file(output + "-2")
    assert "Hugging Face bert folder (BertForMaskedLM) read as UER bert with --target mlm" in logged(caplog)
    assert saved["folder"].keys() == saved["bin"].keys()
    assert all(torch.equal(saved["folder"][key], saved["bin"][key]) for key in saved["bin"])


def test_ner_inference_from_a_token_classification_folder(tmp_path, capsys):
    """A BertForTokenClassification folder with its vocab.txt tags from the folder alone (label map
    from config.json's id2label) exactly as its converted .bin does."""
    from tests.finetune_fixtures import LABEL2ID, write_ner

    folder = tmp_path / "hf"
    id2label = {index: label for label, index in LABEL2ID.items()}
    perturb(transformers.BertForTokenClassification(transformers.BertConfig(
        vocab_size=VOCAB, max_position_embeddings=64, id2label=id2label, **SIZES))).save_pretrained(folder)
    paths = write_common(str(folder))
    converted = str(tmp_path / "ner.bin")
    assert run_converter("convert_bert_token_classification_from_huggingface_to_uer", "--input_model_path",
                         str(folder), "--output_model_path", converted, "--no_check") == 0
    test = str(tmp_path / "test.tsv")
    write_ner(test, 8, 4, with_labels=False)
    outputs = {}
    for name, model, extra in (("bin", converted, ["--vocab_path", paths["vocab"]]), ("folder", str(folder), [])):
        outputs[name] = str(tmp_path / f"{name}.tsv")
        run_script("inference/run_ner_infer.py", ["--load_model_path", model, "--test_path", test, "--tokenizer",
                                                  "space", "--prediction_path", outputs[name], "--seq_length", "32",
                                                  "--device", "cpu", *extra])
    tags = open(outputs["folder"], encoding="utf-8").read()
    assert tags == open(outputs["bin"], encoding="utf-8").read()
    assert len(tags.splitlines()) == 9 and set(" ".join(tags.splitlines()[1:]).split()) <= set(LABEL2ID)
