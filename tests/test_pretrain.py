"""pretrain.py end to end on datasets written by preprocess.py (tiny corpora, tiny models, CPU)."""
import json
import os
import random
import shutil

import pytest
import torch

import pretrain
from tests.test_data_helpers import make_vocab, run_preprocess, write
from tests.test_preprocess import corpus_for
from tests.trainer_fixtures import write_tiny_files
from uer.model_loader import load_state_dict_file
from uer.targets import TARGETS


def dataset_for(directory, target: str, vocab: str) -> str:
    corpus = write(directory, f"{target}.txt", corpus_for(target, random.Random(0), size=40))
    output = os.path.join(str(directory), f"{target}.dataset")
    run_preprocess(corpus, vocab, output, target, "--dynamic_masking")
    return output


def pretrain_args(directory, dataset: str, vocab: str, target: str, *extra: str):
    config = write_tiny_files(os.path.join(str(directory), "tiny"))["config"]
    argv = ["--dataset_path", dataset, "--vocab_path", vocab, "--config_path", config, "--target", target,
            "--output_model_path", os.path.join(str(directory), "out", "model.bin"), "--batch_size", "4",
            "--learning_rate", "1e-3", "--report_steps", "1", "--device", "cpu"]
    if target == "lm":
        argv += ["--mask", "causal"]
    if target == "prefixlm":
        argv += ["--mask", "causal_with_prefix"]
    return argv + list(extra)


@pytest.mark.parametrize("target", TARGETS.names())
def test_every_target_pretrains_from_a_preprocessed_dataset(tmp_path, target, caplog):
    caplog.set_level("INFO")
    vocab = make_vocab(tmp_path)
    dataset = dataset_for(tmp_path, target, vocab)
    pretrain.main(pretrain_args(tmp_path, dataset, vocab, target, "--total_steps", "2"))
    assert os.path.exists(tmp_path / "out" / "model.bin-2") and os.path.exists(tmp_path / "out" / "model.bin-2.state")
    lines = [r.getMessage() for r in caplog.records if "real tokens/s" in r.getMessage()]
    assert len(lines) == 2 and "nan" not in lines[-1]
    if target == "cls":  # --labels_num was not given: the dataset header says 3
        assert json.loads((tmp_path / "out" / "model.bin-2.config.json").read_text())["labels_num"] == 3


def test_resume_with_the_real_loader_matches_an_uninterrupted_run(tmp_path):
    vocab = make_vocab(tmp_path)
    dataset = dataset_for(tmp_path, "bert", vocab)
    flags = ("--total_steps", "6", "--save_checkpoint_steps", "3", "--keep_states", "0", "--warmup", "0.3")
    straight = tmp_path / "straight"
    pretrain.main(pretrain_args(straight, dataset, vocab, "bert", *flags))
    resumed = tmp_path / "resumed"
    os.makedirs(resumed / "out")
    shutil.copytree(straight / "out" / "model.bin-3.state", resumed / "out" / "model.bin-3.state")
    pretrain.main(pretrain_args(resumed, dataset, vocab, "bert", *flags, "--resume", "auto"))
    expected = load_state_dict_file(str(straight / "out" / "model.bin-6"))
    actual = load_state_dict_file(str(resumed / "out" / "model.bin-6"))
    assert not os.path.exists(resumed / "out" / "model.bin-3")  # no step was replayed
    for key in expected:
        assert torch.equal(expected[key], actual[key]), key


def expect_exit_2(capsys, argv) -> str:
    with pytest.raises(SystemExit) as excinfo:
        pretrain.main(argv)
    assert excinfo.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    return err


def test_user_errors_exit_with_status_2(tmp_path, capsys):
    vocab = make_vocab(tmp_path)
    dataset = dataset_for(tmp_path, "mlm", vocab)
    os.makedirs(tmp_path / "other")
    other_vocab = make_vocab(tmp_path / "other", extra="XYZ")
    assert "vocabulary" in expect_exit_2(capsys, pretrain_args(tmp_path, dataset, other_vocab, "mlm"))
    assert "training state not found" in expect_exit_2(
        capsys, pretrain_args(tmp_path, dataset, vocab, "mlm", "--resume", str(tmp_path / "nothing.state")))
    assert "--accumulation_steps" in expect_exit_2(
        capsys, pretrain_args(tmp_path, dataset, vocab, "mlm", "--total_steps", "5", "--accumulation_steps", "2"))
    cls_dataset = dataset_for(tmp_path, "cls", vocab)
    assert "labels up to 2" in expect_exit_2(capsys, pretrain_args(tmp_path, cls_dataset, vocab, "cls",
                                                                  "--labels_num", "2"))
    pretrain.main(pretrain_args(tmp_path, dataset, vocab, "mlm", "--total_steps", "1"))
    assert "does not fit the model" in expect_exit_2(
        capsys, pretrain_args(tmp_path, dataset, vocab, "mlm", "--layers_num", "1", "--resume", "auto"))
    write(tmp_path, "broken.state", "not a state")
    assert "cannot read the training state" in expect_exit_2(
        capsys, pretrain_args(tmp_path, dataset, vocab, "mlm", "--resume", str(tmp_path / "broken.state")))
