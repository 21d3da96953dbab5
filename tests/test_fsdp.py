"""``--parallel fsdp`` on two CPU processes over gloo: the same weights as DDP, about half the memory
per process, checkpoints every script reads, and training states that survive SIGKILL and resume
with another number of processes (DDP and FSDP alike)."""
import json
import os
import random
import shutil
import subprocess
import sys
import time
from argparse import Namespace

import pytest
import torch

from tests.conftest import REPO
from tests.fsdp_fixtures import jobs_worker, overflow_on_one_rank
from tests.test_trainer_distributed import free_port
from tests.trainer_fixtures import parse, write_tiny_files
from uer.model_loader import load_state_dict_file
from uer.model_builder import build_model
from uer.training.fsdp import shard_model, shard_units
from uer.training.runtime import launch
from uer.utils.errors import UserInputError

pytestmark = pytest.mark.usefixtures("one_thread")

STEPS, EVERY = 10, 4  # checkpoints and states at steps 4, 8 and 10
SEED = int(os.environ.get("UER_FAULT_SEED", time.time_ns() % 100_000))
# BERT with tied output weights, clipping that bites, and gradients accumulated over 2 steps of 2 micro-batches.
BERT_FLAGS = ("--tie_weights", "--max_grad_norm", "0.3", "--accumulation_steps", "2")


def job(directory, target: str, parallel: str, *extra: str, processes: int = 2, steps: int = STEPS,
        every: int = EVERY, **hooks) -> Namespace:
    """The options of a synthetic pre-training run of the tiny model, writing to ``directory``."""
    args = parse(str(directory), target, "--total_steps", str(steps), "--save_checkpoint_steps", str(every),
                 "--keep_states", "0", "--report_steps", "1", "--dropout", "0", "--world_size", str(processes),
                 "--backend", "gloo", "--master_ip", f"tcp://127.0.0.1:{free_port()}", "--parallel", parallel, *extra)
    args.dump_dir = str(directory)
    for key, value in hooks.items():
        setattr(args, key, value)
    return args


def run(*jobs: Namespace) -> None:
    """Run the jobs one after another, in one start of their processes (start-ups dominate here)."""
    carrier = Namespace(**vars(jobs[0]))
    carrier.jobs = list(jobs)
    launch(jobs_worker, carrier)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """BERT (tied output weights, clipping, accumulation, micro-batches) and T5 (shared embeddings),
    each under DDP and FSDP on 2 processes."""
    root = tmp_path_factory.mktemp("fsdp")
    jobs = {f"bert_{p}": job(root / f"bert_{p}", "bert", p, *BERT_FLAGS, synthetic_micro_batches=2)
            for p in ("ddp", "fsdp")}
    jobs.update({f"t5_{p}": job(root / f"t5_{p}", "t5", p, "--share_embedding", "--tie_weights", steps=4, every=4)
                 for p in ("ddp", "fsdp")})
    run(*jobs.values())
    return {name: args.dump_dir for name, args in jobs.items()}


def assert_same_checkpoints(expected_dir: str, actual_dir: str, step: int = STEPS, exact: bool = False) -> None:
    expected = load_state_dict_file(os.path.join(expected_dir, f"model.bin-{step}"))
    actual = load_state_dict_file(os.path.join(actual_dir, f"model.bin-{step}"))
    assert list(actual) == list(expected)  # the same keys, in the same order
    for key in expected:
        assert actual[key].dtype == expected[key].dtype and not hasattr(actual[key], "to_local"), key
        if exact:
            assert torch.equal(actual[key], expected[key]), f"{key} (UER_FAULT_SEED={SEED})"
        else:
            torch.testing.assert_close(actual[key], expected[key], atol=1e-5, rtol=1e-5, msg=key)


def test_fsdp_ends_with_the_weights_of_ddp_and_the_same_checkpoint_keys(runs):
    assert_same_checkpoints(runs["bert_ddp"], runs["bert_fsdp"])
    sidecars = [json.loads(open(os.path.join(runs[f"bert_{p}"], f"model.bin-{STEPS}.config.json")).read())
                for p in ("ddp", "fsdp")]
    for sidecar, run in zip(sidecars, ("bert_ddp", "bert_fsdp")):  # each run read the vocabulary in its folder
        assert sidecar.pop("vocab_files") == {"vocab_path": os.path.join(runs[run], "vocab.txt")}
    assert sidecars[0] == sidecars[1]
    initial = load_state_dict_file(os.path.join(runs["bert_fsdp"], "model.bin-4"))
    final = load_state_dict_file(os.path.join(runs["bert_fsdp"], f"model.bin-{STEPS}"))
    assert any(not torch.equal(initial[key], final[key]) for key in final)  # it trained


def test_t5_under_fsdp_ends_with_the_weights_of_ddp(runs):
    """Encoder and decoder layers are shard units; the embeddings are shared by encoder and decoder."""
    assert_same_checkpoints(runs["t5_ddp"], runs["t5_fsdp"], step=4)


def test_fsdp_holds_about_half_the_bytes_per_process(runs):
    """Parameters + gradients + AdamW moments of each process, from its local shards, just before
    the last optimizer step."""
    totals = {}
    for parallel in ("ddp", "fsdp"):
        directory = runs[f"bert_{parallel}"]
        ranks = [json.load(open(os.path.join(directory, f"bytes{rank}.json"))) for rank in (0, 1)]
        assert all(part > 0 for rank in ranks for part in rank.values()), ranks
        totals[parallel] = [sum(rank.values()) for rank in ranks]
    ratio = max(totals["fsdp"]) / min(totals["ddp"])
    print(f"FSDP/DDP bytes per process at 2 processes: {totals['fsdp']} / {totals['ddp']} = {ratio:.3f}")
    assert ratio <= 0.55, totals


def test_run_classifier_fine_tunes_an_fsdp_checkpoint_under_fsdp(runs, tmp_path):
    """The FSDP checkpoint is an ordinary UER state dict: run_classifier.py loads it, here itself
    under --parallel fsdp (every rank evaluates; rank 0 writes the gathered weights)."""
    files = write_tiny_files(str(tmp_path))
    rng = random.Random(0)
    for name, n in (("train.tsv", 64), ("dev.tsv", 32)):
        lines = ["label\ttext_a"]
        for _ in range(n):
            label = rng.randint(0, 1)
            words = [f"w{rng.randrange(0, 40) if label else rng.randrange(50, 90)}" for _ in range(rng.randint(3, 10))]
            lines.append(f"{label}\t{' '.join(words)}")
        (tmp_path / name).write_text("\n".join(lines) + "\n")
    output = str(tmp_path / "classifier.bin")
    argv = ["--pretrained_model_path", os.path.join(runs["bert_fsdp"], f"model.bin-{STEPS}"),
            "--vocab_path", files["vocab"], "--config_path", files["config"], "--tokenizer", "space",
            "--train_path", str(tmp_path / "train.tsv"), "--dev_path", str(tmp_path / "dev.tsv"),
            "--test_path", str(tmp_path / "dev.tsv"), "--output_model_path", output, "--epochs_num", "4",
            "--batch_size", "4", "--seq_length", "16", "--learning_rate", "2e-3", "--pooling", "mean", "--device", "cpu",
            "--world_size", "2", "--backend", "gloo", "--master_ip", f"tcp://127.0.0.1:{free_port()}",
            "--parallel", "fsdp"]
    done = subprocess.run([sys.executable, os.path.join(REPO, "run_classifier.py"), *argv], capture_output=True,
                          text=True, cwd=str(tmp_path), env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "loaded" in done.stderr and "[rank 1] Acc." not in done.stderr, done.stderr[-3000:]
    accuracies = [float(line.split("Acc. (Correct/Total):")[1].split()[0])
                  for line in done.stderr.splitlines() if "Acc. (Correct/Total):" in line]
    assert len(accuracies) == 5 and accuracies[-1] >= 0.9, done.stderr[-3000:]  # 4 epochs + the test set
    saved = load_state_dict_file(output)
    assert not any(hasattr(value, "to_local") for value in saved.values())
    pretrained = load_state_dict_file(os.path.join(runs["bert_fsdp"], f"model.bin-{STEPS}"))
    assert {key for key in pretrained if key.startswith(("embedding.", "encoder."))} <= set(saved)
    assert any(key.startswith("output_layer") for key in saved)
    sidecar = json.loads(open(output + ".config.json").read())
    assert sidecar["labels_num"] == 2


def test_sigkill_during_an_fsdp_run_then_resume_auto_gives_the_same_weights(runs, tmp_path):
    rng = random.Random(SEED)
    kill_rank, kill_step = rng.randrange(2), rng.randrange(2, STEPS + 1, 2)  # in an optimizer step (every 2nd)
    why = f"rank {kill_rank} killed at step {kill_step}, UER_FAULT_SEED={SEED}"
    with pytest.raises(Exception, match="signal|exited|Connection|closed"):  # torch.multiprocessing reports it
        run(job(tmp_path, "bert", "fsdp", *BERT_FLAGS, synthetic_micro_batches=2, kill_step=kill_step,
                kill_rank=kill_rank))
    assert not os.path.exists(tmp_path / f"model.bin-{STEPS}"), why
    run(job(tmp_path, "bert", "fsdp", *BERT_FLAGS, "--resume", "auto", synthetic_micro_batches=2))
    assert_same_checkpoints(runs["bert_fsdp"], str(tmp_path), exact=True)


def losses(directory: str) -> dict:
    with open(os.path.join(directory, "losses.jsonl")) as handle:
        return {entry["step"]: entry["loss"] for entry in map(json.loads, handle)}


def test_resume_with_another_number_of_processes_continues_the_loss_curve(tmp_path):
    """2 -> 1 and 1 -> 2 processes, under DDP and FSDP, from the state at step 6 of 12, on batches
    where the next token follows from the current one (the loss falls fast, so restarting from
    scratch would show)."""
    flags = ("--learning_rate", "5e-3", "--warmup", "0")

    def lm(directory, parallel, processes, *extra):
        return job(directory, "lm", parallel, *flags, *extra, processes=processes, steps=12, every=6, learnable=True)

    def resumed_from(saved, directory):
        os.makedirs(directory)
        shutil.copytree(os.path.join(saved, "model.bin-6.state"), os.path.join(directory, "model.bin-6.state"))
        return str(directory)

    one = lm(tmp_path / "one", "ddp", 1)
    run(one)  # a single process runs in this one
    curves = {}  # (saved by, resumed by, parallel): (directory of the saving run, of the resumed run)
    two_way = []
    for parallel in ("fsdp", "ddp"):
        straight = lm(tmp_path / f"two_{parallel}", parallel, 2)
        into_two = lm(resumed_from(one.dump_dir, tmp_path / f"1to2_{parallel}"), parallel, 2, "--resume", "auto")
        two_way += [straight, into_two]
        curves[(1, 2, parallel)] = (one.dump_dir, into_two.dump_dir)
        curves[(2, 1, parallel)] = (straight.dump_dir, str(tmp_path / f"2to1_{parallel}"))
    run(*two_way)
    for parallel in ("fsdp", "ddp"):
        saved, directory = curves[(2, 1, parallel)]
        run(lm(resumed_from(saved, directory), parallel, 1, "--resume", "auto"))
    for (saved_by, resumed_by, parallel), (saved, resumed) in curves.items():
        why = f"{parallel}: saved by {saved_by} process(es), resumed by {resumed_by}"
        before, after = losses(saved), losses(resumed)
        assert sorted(after) == list(range(7, 13)), why  # no step replayed, none missing
        drop = before[1] - before[6]
        assert drop > 0.5, (why, before)  # the batches are learnable: the curve falls
        # Continuous: the first resumed steps are where the saved run was, not back at the start.
        assert abs(after[7] - before[7]) < 0.25 * drop, (why, before, after)
        assert after[12] < before[6], (why, before, after)
        assert os.path.exists(os.path.join(resumed, "model.bin-12")), why


def test_an_overflow_on_one_rank_skips_the_update_on_every_rank(tmp_path):
    """--fp16 under FSDP: the loss scaler's overflow verdict is shared, so no rank steps alone."""
    torch.multiprocessing.spawn(overflow_on_one_rank, args=(free_port(), str(tmp_path)), nprocs=2, join=True)
    results = [json.load(open(tmp_path / f"overflow{rank}.json")) for rank in (0, 1)]
    assert [r["changed"] for r in results] == [False, False], results
    assert results[0]["scale"] == results[1]["scale"] == 65536.0 / 2, results


def test_ranks_training_different_heads_are_refused_under_fsdp():
    """run_mt_classifier.py's batches train one task head each: FSDP would reduce different tensors
    on different ranks, so it is refused with the way out (no process group is needed to say so)."""
    with pytest.raises(UserInputError, match="--parallel ddp"):
        shard_model(torch.nn.Linear(2, 2), 2, None, find_unused_parameters=True)


def test_layers_are_shard_units_unless_one_layer_is_shared(tmp_path):
    """Each transformer layer is gathered on its own; a shared layer and a recurrent encoder stay in
    the root unit."""
    args = parse(str(tmp_path), "t5")
    assert len(shard_units(build_model(args, 99, 99))) == 2 * args.layers_num  # encoder and decoder
    assert shard_units(build_model(parse(str(tmp_path), "bert", "--parameter_sharing"), 99)) == []
    assert shard_units(build_model(parse(str(tmp_path), "lm", "--encoder", "lstm"), 99)) == []


def test_one_process_runs_the_sharded_path_too(tmp_path, caplog):
    """--parallel fsdp in one process (a GPU benchmark's smoke row): a group of one, the same
    weights as without it, and the group gone afterwards."""
    caplog.set_level("INFO")
    for parallel in ("ddp", "fsdp"):
        run(job(tmp_path / parallel, "bert", parallel, *BERT_FLAGS, processes=1, steps=4, every=4,
                synthetic_micro_batches=2))
        assert not torch.distributed.is_initialized()
    assert any("FSDP: 2 transformer layer(s) sharded one by one over 1 processes" in r.getMessage()
               for r in caplog.records)
    assert_same_checkpoints(str(tmp_path / "ddp"), str(tmp_path / "fsdp"), step=4)
