"""Pooling ignores padding: ``last`` is the last real token, ``mean``/``max`` skip pads."""
import pytest
import torch

from uer.utils.pooling import pool


def test_pooling_ignores_padding():
    hidden = torch.tensor([[[1.0], [2.0], [3.0], [100.0]], [[4.0], [5.0], [-100.0], [-100.0]]])
    seg = torch.tensor([[1, 1, 2, 0], [1, 1, 0, 0]])
    assert pool(hidden, seg, "first").flatten().tolist() == [1.0, 4.0]
    assert pool(hidden, seg, "last").flatten().tolist() == [3.0, 5.0]
    assert pool(hidden, seg, "mean").flatten().tolist() == [2.0, 4.5]
    assert pool(hidden, seg, "max").flatten().tolist() == [3.0, 5.0]


def test_unknown_pooling():
    with pytest.raises(ValueError):
        pool(torch.zeros(1, 2, 3), torch.ones(1, 2), "median")
