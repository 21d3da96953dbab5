"""Activation functions selected by the config key ``hidden_act``."""
import math
from typing import Callable

import torch
import torch.nn.functional as F

from uer.registry import Registry

ACTIVATIONS = Registry("activation")


@ACTIVATIONS.register("gelu")
def gelu(x: torch.Tensor) -> torch.Tensor:
    """Exact GELU (erf), as in BERT."""
    return F.gelu(x)


@ACTIVATIONS.register("gelu_fast")
def gelu_fast(x: torch.Tensor) -> torch.Tensor:
    """Tanh approximation of GELU, as in GPT-2 (Hugging Face ``gelu_new``)."""
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


@ACTIVATIONS.register("relu")
def relu(x: torch.Tensor) -> torch.Tensor:
    return F.relu(x)


@ACTIVATIONS.register("silu")
def silu(x: torch.Tensor) -> torch.Tensor:
    return F.silu(x)


@ACTIVATIONS.register("linear")
def linear(x: torch.Tensor) -> torch.Tensor:
    return x


def get_activation(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    return ACTIVATIONS.get(name)
