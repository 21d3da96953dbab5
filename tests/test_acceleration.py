"""--activation_checkpointing and --compile (uer/training/checkpointing.py, uer/training/compile.py),
the device rule of the efficient.py Functions, and the peak-memory field of the report line."""
import pickle

import pytest
import torch

from tests.finetune_fixtures import run_script, write_classification, write_common
from tests.helpers import VOCAB, batch_for, tiny_args
from tests.trainer_fixtures import parse, synthetic_worker
import uer.layers.efficient as efficient
from uer.model_builder import build_model
from uer.model_loader import load_state_dict_file
from uer.model_saver import save_model
from uer.training import compile as compile_module
from uer.training.checkpointing import apply_activation_checkpointing, transformer_blocks
from uer.training.compile import compiler_problem, prepare_layers
from uer.training.train_stats import format_report, peak_device_memory
from uer.utils.errors import UserInputError

MODELS = {  # BERT (encoder layers) and T5 (encoder and decoder layers, relative position bias)
    "bert": dict(target="bert", layers_num=3),
    "t5": dict(target="t5", embedding="word", tgt_embedding="word", layernorm_positioning="pre", layernorm="t5",
               relative_position_embedding=True, remove_transformer_bias=True, remove_attention_scale=True,
               feed_forward="gated", hidden_act="gelu_fast", mask="fully_visible"),
}


def train_step(options, checkpointing=False, compiled=False, seed=0):
    """(loss, {name: gradient}, bytes of the tensors saved for backward) of one forward-backward."""
    torch.manual_seed(seed)
    model = build_model(tiny_args(**options), VOCAB, VOCAB)
    model.train()
    if checkpointing:
        apply_activation_checkpointing(model)
    if compiled:
        compile_module.compile_blocks(model)
    saved = [0]

    def pack(tensor):
        saved[0] += tensor.numel() * tensor.element_size()
        return tensor

    torch.manual_seed(seed + 1)  # the dropout masks
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        loss = model(batch_for(options["target"], batch_size=4, length=16))["loss"]
    loss.backward()
    return model, loss.detach(), {n: p.grad for n, p in model.named_parameters() if p.grad is not None}, saved[0]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_activation_checkpointing_same_loss_and_gradients_less_saved(name):
    options = MODELS[name]
    plain, loss, grads, saved = train_step(options)
    recomputed, loss_ac, grads_ac, saved_ac = train_step(options, checkpointing=True)
    layers = options.get("layers_num", 2) * (2 if name == "t5" else 1)
    assert len(transformer_blocks(recomputed)) == layers
    assert torch.allclose(loss, loss_ac, rtol=0, atol=1e-6)  # dropout 0.1: the masks are replayed
    assert grads.keys() == grads_ac.keys()
    for key in grads:
        assert torch.allclose(grads[key], grads_ac[key], rtol=0, atol=1e-6), key
    assert saved_ac < 0.5 * saved, (saved_ac, saved)  # only what lies outside the layers is kept
    assert list(recomputed.state_dict()) == list(plain.state_dict())  # same names, no wrapper prefix
    assert all(not n.startswith("_") and "_checkpoint_wrapped_module" not in n
               for n, _ in recomputed.named_parameters())


def test_checkpointed_layers_run_plainly_outside_training():
    model = build_model(tiny_args(target="mlm"), VOCAB)
    assert apply_activation_checkpointing(model) == 2 and apply_activation_checkpointing(model) == 2
    model = pickle.loads(pickle.dumps(model))  # the swapped classes are importable by name
    assert type(model.encoder.transformer[0]).__name__ == "RecomputedTransformerLayer"
    model.eval()
    batch = batch_for("mlm")
    with torch.no_grad():
        out = model(batch)["loss"]
    fresh = build_model(tiny_args(target="mlm"), VOCAB)
    fresh.load_state_dict(model.state_dict())
    fresh.eval()
    with torch.no_grad():
        assert torch.equal(out, fresh(batch)["loss"])


def test_pretraining_with_activation_checkpointing_ends_with_the_same_weights(tmp_path):
    plain = synthetic_worker(parse(str(tmp_path / "plain"), "bert", "--total_steps", "3"))
    recomputed = synthetic_worker(parse(str(tmp_path / "ac"), "bert", "--total_steps", "3",
                                        "--activation_checkpointing"))
    a = load_state_dict_file(str(tmp_path / "plain" / "model.bin-3"))
    b = load_state_dict_file(str(tmp_path / "ac" / "model.bin-3"))
    assert list(a) == list(b)
    for key in a:
        assert torch.allclose(a[key], b[key], rtol=0, atol=1e-6), key
    assert plain.last_report["loss"] == pytest.approx(recomputed.last_report["loss"], abs=1e-6)


def test_fine_tuning_accepts_both_flags_and_saves_plain_keys(tmp_path, monkeypatch):
    paths = write_common(str(tmp_path))
    for name, n, seed in (("train", 64, 1), ("dev", 32, 2)):
        paths[name] = str(tmp_path / f"{name}.tsv")
        write_classification(paths[name], n, seed)
    compiled = []
    monkeypatch.setattr(compile_module, "compile_blocks", lambda model: compiled.append(model) or 2)
    monkeypatch.setattr(compile_module, "compiler_problem", lambda device: None)  # wiring only: no compiler needed
    model = str(tmp_path / "classifier.bin")
    run_script("run_classifier.py", ["--vocab_path", paths["vocab"], "--config_path", paths["config"],
                                     "--tokenizer", "char", "--train_path", paths["train"], "--dev_path",
                                     paths["dev"], "--output_model_path", model, "--epochs_num", "1",
                                     "--batch_size", "16", "--seq_length", "32", "--device", "cpu",
                                     "--activation_checkpointing", "--compile"])
    assert len(compiled) == 1  # fit() prepared the model it trains
    keys = list(load_state_dict_file(model))
    assert "encoder.transformer.0.self_attn.linear_layers.0.weight" in keys
    assert not any("_orig_mod" in k or "_checkpoint_wrapped_module" in k for k in keys)


def test_compile_without_a_compiler_is_a_user_error(monkeypatch):
    monkeypatch.delenv("CXX", raising=False)
    monkeypatch.setattr(compile_module.shutil, "which", lambda name: None)
    assert "C++ compiler" in compiler_problem(torch.device("cpu"))
    args = tiny_args(target="mlm")
    args.compile = True
    with pytest.raises(UserInputError, match="needs a C\\+\\+ compiler"):
        prepare_layers(build_model(args, VOCAB), args, torch.device("cpu"))


def test_compiled_layers_match_eager_and_keep_the_checkpoint_keys(tmp_path):
    problem = compiler_problem(torch.device("cpu"))
    if problem:
        pytest.skip(problem)
    options = dict(target="bert", layers_num=2, dropout=0.0)  # compiled dropout draws other masks
    eager, loss, grads, _ = train_step(options)
    compiled, loss_c, grads_c, _ = train_step(options, checkpointing=True, compiled=True)
    assert all(block._compiled_call_impl is not None for block in transformer_blocks(compiled))
    assert torch.allclose(loss, loss_c, rtol=0, atol=1e-4)
    for key in grads:
        assert torch.allclose(grads[key], grads_c[key], rtol=0, atol=1e-4), key
    save_model(compiled, str(tmp_path / "compiled.bin"))
    assert list(load_state_dict_file(str(tmp_path / "compiled.bin"))) == list(eager.state_dict())


def test_lean_functions_only_on_their_devices(monkeypatch):
    """The plain modules (taken on CUDA) compute the same loss and gradients as the Functions."""
    options = dict(target="mlm", dropout=0.0)
    _, loss, grads, saved = train_step(options)
    monkeypatch.setattr(efficient, "LEAN_DEVICES", frozenset())
    assert not efficient.use_lean(torch.zeros(1))
    _, loss_plain, grads_plain, saved_plain = train_step(options)
    assert torch.allclose(loss, loss_plain, atol=1e-6)
    for key in grads:
        assert torch.allclose(grads[key], grads_plain[key], atol=1e-6), key
    assert saved < saved_plain  # what the Functions are for, on CPU


def test_report_line_shows_peak_device_memory():
    stats = {"tokens": 1000.0, "loss": 2.0, "parts": {"mlm": (2.0, 0.5)}}
    line = format_report(10, 100, stats, 1.0, 1e-4, 5.0, peak_memory=3 * 2 ** 30 + 2 ** 29)
    assert line.endswith("| peak mem 3.50 GiB") and "1000 real tokens/s" in line
    assert "peak mem" not in format_report(10, 100, stats, 1.0, 1e-4, 5.0)
    assert peak_device_memory(torch.device("cpu")) is None


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_cuda_attention_with_dropout_runs_on_fused_kernels(dtype):
    """Training attention with dropout takes SDPA's flash / memory-efficient kernels on CUDA (the math
    path is excluded, so a fallback to it would raise)."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    model = build_model(tiny_args(target="mlm", hidden_size=64, emb_size=64, heads_num=4), VOCAB).cuda().train()
    batch = {k: v.cuda() for k, v in batch_for("mlm", batch_size=4, length=32).items()}
    with sdpa_kernel([SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION]):
        with torch.autocast("cuda", dtype=dtype):
            loss = model(batch)["loss"]
        loss.backward()
    assert torch.isfinite(loss)
