"""Optimizers and schedules: weight decay really applies, Adafactor and the schedules match the
reference semantics (Hugging Face's implementations, when transformers is installed)."""
import copy
import subprocess
import sys
from argparse import Namespace

import pytest
import torch
import torch.nn as nn

from uer.training.adafactor import Adafactor
from uer.training.optimizers import OPTIMIZERS, SCHEDULERS, build_optimizer, build_scheduler, param_groups


def tiny_model() -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Embedding(10, 8), nn.Linear(8, 8), nn.LayerNorm(8), nn.Linear(8, 3))
    return model


def options(**overrides) -> Namespace:
    values = dict(optimizer="adamw", scheduler="linear", learning_rate=1e-2, warmup=0.1, weight_decay=0.1)
    values.update(overrides)
    return Namespace(**values)


def test_registries_hold_the_reference_names():
    assert OPTIMIZERS.names() == ["adafactor", "adamw"]
    assert SCHEDULERS.names() == sorted(["linear", "cosine", "cosine_with_restarts", "polynomial", "constant",
                                         "constant_with_warmup"])


def test_decay_is_chosen_by_tensor_rank():
    model = tiny_model()
    decay, no_decay = param_groups(model, 0.1)
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert all(p.dim() >= 2 for p in decay["params"]) and len(decay["params"]) == 3  # embedding + 2 matrices
    assert all(p.dim() < 2 for p in no_decay["params"]) and len(no_decay["params"]) == 4  # 2 biases, gamma, beta


def test_tied_parameters_are_optimized_once():
    model = tiny_model()
    model[1].weight = model[3].weight = nn.Parameter(torch.randn(8, 8))
    optimizer = build_optimizer(model, options())
    params = [p for group in optimizer.param_groups for p in group["params"]]
    assert len(params) == len({id(p) for p in params})


@pytest.mark.parametrize("name", ["adamw", "adafactor"])
def test_weight_decay_shrinks_a_matrix_with_zero_gradient(name):
    model = tiny_model()
    optimizer = build_optimizer(model, options(optimizer=name))
    matrix, bias = model[1].weight, model[1].bias
    before_matrix, before_bias = matrix.detach().clone(), bias.detach().clone()
    for _ in range(3):
        for p in model.parameters():
            p.grad = torch.zeros_like(p)
        optimizer.step()
    assert matrix.norm() < before_matrix.norm() * (1 - 1e-4)
    torch.testing.assert_close(matrix.detach(), before_matrix * (1 - 1e-2 * 0.1) ** 3)
    torch.testing.assert_close(bias.detach(), before_bias)  # 1-D: no decay


def test_adamw_uses_a_fast_implementation():
    optimizer = build_optimizer(tiny_model(), options())
    defaults = optimizer.defaults
    assert defaults.get("fused") or defaults.get("foreach")
    assert defaults["eps"] == 1e-6 and defaults["betas"] == (0.9, 0.999)


def test_adafactor_matches_hugging_face():
    transformers = pytest.importorskip("transformers.optimization")
    ours_model = tiny_model()
    theirs_model = copy.deepcopy(ours_model)
    ours = build_optimizer(ours_model, options(optimizer="adafactor"))
    theirs = transformers.Adafactor(param_groups(theirs_model, 0.1), lr=1e-2, scale_parameter=False,
                                    relative_step=False, warmup_init=False)
    generator = torch.Generator().manual_seed(1)
    for _ in range(4):
        inputs = torch.randint(0, 10, (5, 3), generator=generator)
        for model, optimizer in ((ours_model, ours), (theirs_model, theirs)):
            optimizer.zero_grad()
            model(inputs).pow(2).mean().backward()
            optimizer.step()
    for mine, reference in zip(ours_model.parameters(), theirs_model.parameters()):
        torch.testing.assert_close(mine, reference, rtol=0, atol=1e-7)


def test_adafactor_state_round_trips():
    model = tiny_model()
    optimizer = Adafactor(model.parameters(), lr=1e-2, beta1=0.9)
    model(torch.tensor([[1, 2]])).sum().backward()
    optimizer.step()
    clone = Adafactor(copy.deepcopy(model).parameters(), lr=1e-2, beta1=0.9)
    clone.load_state_dict(optimizer.state_dict())
    assert set(clone.state_dict()["state"][1]) == {"step", "exp_avg_sq_row", "exp_avg_sq_col", "exp_avg"}


def _rates(name: str, total: int, warmup: float = 0.2, lr: float = 1.0):
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=lr)
    scheduler = build_scheduler(optimizer, options(scheduler=name, learning_rate=lr, warmup=warmup), total)
    rates = []
    for _ in range(total + 2):
        rates.append(scheduler.get_last_lr()[0])
        optimizer.step()
        scheduler.step()
    return rates


def test_linear_schedule_shape():
    rates = _rates("linear", 10)
    assert rates[:3] == pytest.approx([0.0, 0.5, 1.0])  # 2 warm-up steps
    assert rates[10] == 0.0 and rates[6] == pytest.approx(0.5)
    assert _rates("constant", 5)[0] == 1.0
    assert _rates("constant_with_warmup", 10)[1:4] == pytest.approx([0.5, 1.0, 1.0])
    assert min(_rates("polynomial", 10, lr=1e-3)[2:]) == pytest.approx(1e-7)  # floor after warm-up


@pytest.mark.parametrize("name", ["linear", "cosine", "cosine_with_restarts", "polynomial", "constant",
                                  "constant_with_warmup"])
def test_schedules_match_hugging_face(name):
    hf = pytest.importorskip("transformers.optimization")
    total, warmup, lr = 20, 0.15, 1e-3
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=lr)
    kwargs = {} if name == "constant" else {"num_warmup_steps": int(total * warmup)}
    if name not in ("constant", "constant_with_warmup"):
        kwargs["num_training_steps"] = total
    reference = hf.get_scheduler(name, optimizer, **kwargs)
    expected = []
    for _ in range(total + 2):
        expected.append(reference.get_last_lr()[0])
        optimizer.step()
        reference.step()
    assert _rates(name, total, warmup, lr) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def _bert_adam_reference(params, grads_per_step, lr, weight_decays, eps=1e-6, betas=(0.9, 0.999)):
    """BERT's AdamWeightDecayOptimizer / HF ``AdamW(correct_bias=False)``, written out."""
    params = [p.detach().clone() for p in params]
    m = [torch.zeros_like(p) for p in params]
    v = [torch.zeros_like(p) for p in params]
    for grads in grads_per_step:
        for p, g, m_, v_, wd in zip(params, grads, m, v, weight_decays):
            m_.mul_(betas[0]).add_(g, alpha=1 - betas[0])
            v_.mul_(betas[1]).addcmul_(g, g, value=1 - betas[1])
            p.mul_(1 - lr * wd)
            p.addcdiv_(m_, v_.sqrt() + eps, value=-lr)
    return params


def _random_grads(model: nn.Module, steps: int):
    generator = torch.Generator().manual_seed(3)
    # Gradients of very different sizes, so that eps matters for some elements.
    return [[torch.randn(p.shape, generator=generator) * 10.0 ** torch.randint(-7, 0, p.shape, generator=generator)
             for p in model.parameters()] for _ in range(steps)]


def test_adamw_has_no_bias_correction_by_default_as_bert():
    model = tiny_model()
    start = [p.detach().clone() for p in model.parameters()]
    optimizer = build_optimizer(model, options(learning_rate=1e-3))
    grads = _random_grads(model, 6)
    for step_grads in grads:
        for p, g in zip(model.parameters(), step_grads):
            p.grad = g.clone()
        optimizer.step()
    decays = [0.1 if p.dim() >= 2 else 0.0 for p in model.parameters()]
    expected = _bert_adam_reference(start, grads, 1e-3, decays)
    for mine, reference in zip(model.parameters(), expected):
        torch.testing.assert_close(mine.detach(), reference, rtol=1e-5, atol=1e-7)
    # The rescaled hyper-parameters are put back after every step (schedulers and checkpoints see them).
    assert all(group["lr"] == 1e-3 and group["eps"] == 1e-6 for group in optimizer.param_groups)
    assert [group["weight_decay"] for group in optimizer.param_groups] == [0.1, 0.0]


def test_adamw_bias_correction_flag_gives_torch_adamw():
    ours_model, theirs_model = tiny_model(), tiny_model()
    ours = build_optimizer(ours_model, options(learning_rate=1e-3, adam_bias_correction=True))
    theirs = torch.optim.AdamW(param_groups(theirs_model, 0.1), lr=1e-3, betas=(0.9, 0.999), eps=1e-6)
    for step_grads in _random_grads(ours_model, 4):
        for model in (ours_model, theirs_model):
            for p, g in zip(model.parameters(), step_grads):
                p.grad = g.clone()
        ours.step()
        theirs.step()
    for mine, reference in zip(ours_model.parameters(), theirs_model.parameters()):
        torch.testing.assert_close(mine, reference, rtol=1e-6, atol=1e-8)


def test_adamw_resumed_from_its_state_continues_the_step_count():
    grads = _random_grads(tiny_model(), 5)

    def run(model, optimizer, step_grads):
        for p, g in zip(model.parameters(), step_grads):
            p.grad = g.clone()
        optimizer.step()

    straight = tiny_model()
    optimizer = build_optimizer(straight, options(learning_rate=1e-3))
    for step_grads in grads:
        run(straight, optimizer, step_grads)
    first = tiny_model()
    optimizer = build_optimizer(first, options(learning_rate=1e-3))
    for step_grads in grads[:2]:
        run(first, optimizer, step_grads)
    resumed = copy.deepcopy(first)
    optimizer_resumed = build_optimizer(resumed, options(learning_rate=1e-3))
    optimizer_resumed.load_state_dict(optimizer.state_dict())
    for step_grads in grads[2:]:
        run(resumed, optimizer_resumed, step_grads)
    for mine, reference in zip(resumed.parameters(), straight.parameters()):
        torch.testing.assert_close(mine, reference, rtol=0, atol=0)


def test_training_steps_do_not_import_torch_dynamo():
    # torch's optimizer wrappers import torch._dynamo (~70 MB resident, ~0.9 s) for torch.compile only.
    code = """
import sys
from argparse import Namespace
import torch
from uer.training.optimizers import build_optimizer, build_scheduler
for name in ("adamw", "adafactor"):
    model = torch.nn.Sequential(torch.nn.Embedding(10, 8), torch.nn.Linear(8, 8))
    args = Namespace(optimizer=name, learning_rate=1e-3, weight_decay=0.01, scheduler="linear", warmup=0.1)
    optimizer = build_optimizer(model, args)
    scheduler = build_scheduler(optimizer, args, 10)
    for _ in range(2):
        model(torch.tensor([[1, 2]])).sum().backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
    optimizer.load_state_dict(optimizer.state_dict())
print("torch._dynamo" in sys.modules)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False", result.stderr
