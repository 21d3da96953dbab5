"""Two CPU processes over gloo, started both ways (``--world_size 2`` spawn and torchrun), train
with DistributedDataParallel and end with identical weights."""
import os
import socket
import subprocess
import sys
import textwrap

import pytest
import torch

from tests.trainer_fixtures import REPO, dumping_worker, parse
from uer.model_builder import build_model
from uer.training.runtime import init_distributed, launch
from uer.training.train_state import load_train_state
from uer.utils.errors import UserInputError
from uer.utils.seed import set_seed


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def assert_ranks_agree_and_trained(directory, args):
    set_seed(args.seed)
    initial = build_model(args, 99).state_dict()
    rank0 = torch.load(os.path.join(directory, "rank0.pt"))
    rank1 = torch.load(os.path.join(directory, "rank1.pt"))
    assert rank0.keys() == rank1.keys()
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key
    assert any(not torch.equal(initial[key], rank0[key]) for key in rank0)
    saved = torch.load(os.path.join(directory, "model.bin-4"))
    for key in rank0:
        assert torch.equal(saved[key], rank0[key]), key
    state = load_train_state(os.path.join(directory, "model.bin-4.state"))
    assert state["world_size"] == 2 and len(state["ranks"]) == 2
    # The two ranks read different data: their loader positions differ.
    assert state["ranks"][0]["loader"] != state["ranks"][1]["loader"]


def test_world_size_spawn_on_cpu_with_gloo(tmp_path):
    args = parse(str(tmp_path), "bert", "--total_steps", "4", "--save_checkpoint_steps", "4", "--world_size", "2",
                 "--backend", "gloo", "--master_ip", f"tcp://127.0.0.1:{free_port()}")
    args.dump_dir = str(tmp_path)
    launch(dumping_worker, args)
    assert_ranks_agree_and_trained(str(tmp_path), args)


def test_micro_batches_under_ddp_end_where_whole_batches_do(tmp_path):
    """Each rank serves its batches cut into length-sorted micro-batches; gradients are reduced once
    per batch (no_sync on the others), and the run ends with the weights of whole batches."""
    weights = {}
    for pieces in (0, 3):
        directory = tmp_path / f"pieces{pieces}"
        args = parse(str(directory), "bert", "--total_steps", "4", "--save_checkpoint_steps", "4", "--world_size",
                     "2", "--backend", "gloo", "--master_ip", f"tcp://127.0.0.1:{free_port()}", "--batch_size", "6")
        args.dropout, args.dump_dir, args.synthetic_micro_batches = 0.0, str(directory), pieces
        launch(dumping_worker, args)
        rank0 = torch.load(os.path.join(directory, "rank0.pt"))
        rank1 = torch.load(os.path.join(directory, "rank1.pt"))
        assert all(torch.equal(rank0[key], rank1[key]) for key in rank0)
        weights[pieces] = rank0
    for key, value in weights[0].items():
        torch.testing.assert_close(weights[3][key], value, atol=1e-5, rtol=1e-4)


def test_torchrun_on_cpu(tmp_path):
    args_file = tmp_path / "run.py"
    args_file.write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {REPO!r})
        from tests.trainer_fixtures import dumping_worker, parse
        args = parse({str(tmp_path)!r}, "mlm", "--total_steps", "4", "--save_checkpoint_steps", "4",
                     "--backend", "nccl")  # nccl on CPU falls back to gloo
        args.dump_dir = {str(tmp_path)!r}
        dumping_worker(args)
    """))
    env = dict(os.environ, OMP_NUM_THREADS="1")
    result = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                             "--master_port", str(free_port()), str(args_file)],
                            capture_output=True, text=True, env=env, timeout=240, cwd=str(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "using gloo on CPU" in result.stderr
    assert_ranks_agree_and_trained(str(tmp_path), parse(str(tmp_path), "mlm"))


def test_launch_rejects_impossible_process_layouts(tmp_path):
    args = parse(str(tmp_path), "mlm", "--world_size", "2", "--gpu_ranks", "0", "2")
    with pytest.raises(UserInputError, match="below --world_size 2"):
        launch(dumping_worker, args)
    if not torch.cuda.is_available():
        args = parse(str(tmp_path), "mlm", "--world_size", "2", "--gpu_ranks", "0", "1")
        with pytest.raises(UserInputError, match="CUDA device"):
            launch(dumping_worker, args)
        with pytest.raises(UserInputError, match="no GPU"):
            init_distributed(parse(str(tmp_path), "mlm", "--device", "cuda"))
