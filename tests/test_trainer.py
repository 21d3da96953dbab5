"""The pre-training loop on CPU with tiny models and a synthetic resumable loader."""
import contextlib
import json
import math
import os

import pytest
import torch
import torch.nn as nn

from tests.trainer_fixtures import SyntheticLoader, parse, synthetic_worker
from uer.model_builder import build_model
from uer.model_loader import load_model, load_state_dict_file
from uer.targets import TARGETS
from uer.trainer import Trainer, check_plan
from uer.training.optimizers import build_optimizer, build_scheduler
from uer.training.runtime import DistContext, NonFiniteGuard, TrainingDiverged
from uer.training.dist_checkpoint import load_sharded
from uer.training.train_state import find_latest_state, load_train_state
from uer.training.train_stats import StatsWindow, format_report
from uer.utils.errors import UserInputError


@pytest.mark.parametrize("target", TARGETS.names())
def test_every_target_trains_with_a_finite_loss(tmp_path, target):
    trainer = synthetic_worker(parse(str(tmp_path), target, "--total_steps", "3"))
    report = trainer.last_report
    assert report["steps"] == 1 and math.isfinite(report["loss"]) and report["tokens"] > 0
    assert all(math.isfinite(loss) for loss, _ in report["parts"].values())


def test_checkpoints_and_sidecars_at_the_expected_steps(tmp_path):
    args = parse(str(tmp_path), "bert", "--total_steps", "5", "--save_checkpoint_steps", "2")
    synthetic_worker(args)
    names = set(os.listdir(tmp_path))
    for step in (2, 4, 5):  # every 2 steps and the last one
        assert {f"model.bin-{step}", f"model.bin-{step}.config.json"} <= names
    assert "model.bin-3" not in names
    assert [n for n in names if n.endswith(".state")] == ["model.bin-5.state"]  # --keep_states 1
    assert not [n for n in names if ".tmp" in n]
    sidecar = json.loads((tmp_path / "model.bin-5.config.json").read_text())
    assert sidecar["vocab_size"] == 99 and sidecar["target"] == "bert" and sidecar["hidden_size"] == 32
    fresh = build_model(args, 99)
    report = load_model(fresh, str(tmp_path / "model.bin-5"))
    assert not report.missing and not report.unexpected
    assert not any(key.startswith("module.") for key in load_state_dict_file(str(tmp_path / "model.bin-5")))
    state = load_train_state(str(tmp_path / "model.bin-5.state"))
    assert state["step"] == 5 and state["world_size"] == 1 and state["scheduler"]["last_epoch"] == 5


def test_stopped_and_resumed_run_ends_with_the_same_weights(tmp_path):
    straight, stopped = tmp_path / "straight", tmp_path / "stopped"
    common = ("--total_steps", "6", "--save_checkpoint_steps", "3", "--dropout", "0.1", "--warmup", "0.3")
    synthetic_worker(parse(str(straight), "bert", *common))
    interrupted = parse(str(stopped), "bert", *common)
    interrupted.stop_after = 4  # the 4th batch is never trained on: the run dies after saving step 3
    with pytest.raises(KeyboardInterrupt):
        synthetic_worker(interrupted)
    assert find_latest_state(str(stopped / "model.bin")).endswith("model.bin-3.state")
    assert not (stopped / "model.bin-6").exists()
    resumed = synthetic_worker(parse(str(stopped), "bert", *common, "--resume", "auto"))
    assert resumed.step == 6
    expected = load_state_dict_file(str(straight / "model.bin-6"))
    actual = load_state_dict_file(str(stopped / "model.bin-6"))
    assert expected.keys() == actual.keys()
    for key in expected:
        assert torch.equal(expected[key], actual[key]), key


def test_a_single_file_state_of_the_previous_format_still_resumes(tmp_path):
    """Format 1 (one torch.save file holding the model and optimizer too, written before states
    became torch.distributed.checkpoint directories) is still read: built here from the format-2
    state of step 3, it resumes to the weights of the uninterrupted run."""
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    common = ("--total_steps", "6", "--save_checkpoint_steps", "3", "--keep_states", "0", "--dropout", "0.1")
    synthetic_worker(parse(str(straight), "bert", *common))
    state = load_train_state(str(straight / "model.bin-3.state"))
    assert state["format"] == 2 and os.path.isdir(state["checkpoint"])
    args = parse(str(resumed), "bert", *common)
    model = build_model(args, 99)
    optimizer = build_optimizer(model, args)
    load_sharded(state.pop("checkpoint"), model, optimizer)
    torch.save({**state, "format": 1, "model": model.state_dict(), "optimizer": optimizer.state_dict()},
               tmp_path / "old.state")
    synthetic_worker(parse(str(resumed), "bert", *common, "--resume", str(tmp_path / "old.state")))
    expected = load_state_dict_file(str(straight / "model.bin-6"))
    actual = load_state_dict_file(str(resumed / "model.bin-6"))
    for key in expected:
        assert torch.equal(expected[key], actual[key]), key


def test_initialises_from_a_pretrained_model(tmp_path, caplog):
    synthetic_worker(parse(str(tmp_path / "a"), "mlm", "--total_steps", "2"))
    caplog.set_level("INFO")
    args = parse(str(tmp_path / "b"), "bert", "--total_steps", "1",
                 "--pretrained_model_path", str(tmp_path / "a" / "model.bin-2"))
    synthetic_worker(args)
    assert any("loaded" in r.getMessage() and "missing" in r.getMessage() and "nsp_linear" in r.getMessage()
               for r in caplog.records)


class CountingWrapper(nn.Module):
    """Stands in for DDP: counts the micro-steps run under ``no_sync``."""

    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module
        self.unsynced = 0

    @contextlib.contextmanager
    def no_sync(self):
        self.unsynced += 1
        yield

    def forward(self, batch):
        return self.module(batch)


def test_accumulation_advances_the_schedule_per_optimizer_step(tmp_path):
    args = parse(str(tmp_path), "mlm", "--total_steps", "8", "--accumulation_steps", "4",
                 "--save_checkpoint_steps", "8", "--report_steps", "8")
    model = build_model(args, 99)
    optimizer = build_optimizer(model, args)
    scheduler = build_scheduler(optimizer, args, args.total_steps // args.accumulation_steps)
    wrapper = CountingWrapper(model)
    trainer = Trainer(args, DistContext(), wrapper, SyntheticLoader("mlm"), optimizer, scheduler)
    trainer.train()
    assert scheduler.last_epoch == 2  # 8 micro-steps / 4 = 2 optimizer steps = the horizon
    assert scheduler.get_last_lr()[0] == 0.0  # the linear schedule reached its end exactly
    assert wrapper.unsynced == 6  # gradients are all-reduced on 2 of the 8 backward passes
    assert trainer.last_report["steps"] == 8


def test_plan_errors_name_the_flag(tmp_path):
    for flags, word in ((("--total_steps", "10", "--accumulation_steps", "4"), "--total_steps"),
                        (("--total_steps", "8", "--accumulation_steps", "4", "--save_checkpoint_steps", "6"),
                         "--save_checkpoint_steps"),
                        (("--report_steps", "0",), "--report_steps")):
        with pytest.raises(UserInputError, match=word):
            parse(str(tmp_path), "mlm", *flags)


@pytest.mark.parametrize("flag", ["--bf16", "--fp16"])
def test_mixed_precision_on_cpu(tmp_path, flag, caplog):
    trainer = synthetic_worker(parse(str(tmp_path), "bert", "--total_steps", "2", flag))
    assert math.isfinite(trainer.last_report["loss"])
    assert trainer.scaler.is_enabled() == (flag == "--fp16")
    if flag == "--fp16":
        assert any("use --bf16 on CPU" in r.getMessage() for r in caplog.records)


class NanModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(3, 3))

    def forward(self, batch):
        loss = self.weight.sum() * float("nan")
        return {"loss": loss, "loss_x": loss, "correct_x": torch.tensor(0), "denominator_x": torch.tensor(1)}


def test_a_run_of_non_finite_losses_stops_with_advice(tmp_path):
    args = parse(str(tmp_path), "mlm", "--total_steps", "20", "--report_steps", "2")
    model = NanModel()
    optimizer = build_optimizer(model, args)
    trainer = Trainer(args, DistContext(), model, SyntheticLoader("mlm"), optimizer,
                      build_scheduler(optimizer, args, 20))
    trainer.guard = NonFiniteGuard(patience=5)
    with pytest.raises(TrainingDiverged, match="--learning_rate"):
        trainer.train()
    assert trainer.step == 5
    assert torch.equal(model.weight, torch.ones(3, 3))  # no NaN update was applied
    assert trainer.last_report["nonfinite"] == 2


def test_guard_resets_on_a_finite_step():
    guard = NonFiniteGuard(patience=2)
    guard.update(False, 1)
    guard.update(True, 2)
    guard.update(False, 3)
    assert guard.pop_window() == 2 and guard.total == 2
    with pytest.raises(TrainingDiverged):
        guard.update(False, 4)


def test_report_line_derives_parts_from_the_target_keys():
    window = StatsWindow(torch.device("cpu"))
    seg = torch.tensor([[1, 1, 2, 0], [1, 2, 2, 2]])
    for loss, correct in ((1.0, 3), (float("nan"), 1), (3.0, 2)):
        window.add({"loss": torch.tensor(loss + 0.5), "loss_mlm": torch.tensor(loss), "correct_mlm": torch.tensor(correct),
                    "denominator_mlm": torch.tensor(4), "loss_sp": torch.tensor(0.5), "correct_sp": 1,
                    "denominator_sp": 2, "logits": torch.zeros(2)}, seg)
    stats = window.reduce(DistContext())
    assert stats["tokens"] == 21 and stats["steps"] == 3 and stats["nonfinite"] == 1
    assert stats["loss"] == pytest.approx(2.5) and stats["parts"]["mlm"] == pytest.approx((2.0, 0.5))
    line = format_report(30, 100, stats, elapsed=2.0, lr=1e-4, eta=3725.0)
    assert line.startswith("|      30/    100 steps|")
    for piece in ("10 real tokens/s", "loss   2.500", "loss_mlm: 2.000", "loss_sp: 0.500", "acc_mlm: 0.500",
                  "acc_sp: 0.500", "lr 1.000e-04", "eta 1:02:05", "non-finite losses: 1"):
        assert piece in line
    assert line.index("loss_sp") < line.index("acc_mlm")
    single = {"loss": 1.0, "parts": {"lm": (1.0, 0.25)}, "tokens": 100.0, "steps": 1}
    assert "| loss   1.000| acc: 0.250|" in format_report(1, 2, single, 1.0, 0.0, 0.0)
