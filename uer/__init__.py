"""uer: pre-training and fine-tuning toolkit for NLP models assembled from named parts.

``uer.load(path)`` returns a :class:`uer.api.Predictor` (classify, tag, encode, fill_mask,
generate). The API is imported on first use, so ``import uer`` loads neither torch nor the models.
"""
from typing import Any, List

__version__ = "0.2.0"
_API = ("Predictor", "load")
__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    if name in _API:
        from uer import api

        return getattr(api, name)
    raise AttributeError(f"module 'uer' has no attribute {name!r}")


def __dir__() -> List[str]:
    return sorted(set(__all__) | {name for name in globals() if name.startswith("__")})
