"""Pre-training targets, chosen by ``--target``. Each returns a dict of loss and statistics."""
from uer.registry import Registry

TARGETS = Registry("target")

from uer.targets import mlm_target  # noqa: E402,F401
from uer.targets import lm_target  # noqa: E402,F401
from uer.targets import cls_target  # noqa: E402,F401
from uer.targets import seq2seq_target  # noqa: E402,F401
