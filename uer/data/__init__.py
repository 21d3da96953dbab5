"""The pre-training data pipeline: corpus -> instances (preprocess.py) -> memory-mapped batches.

- :mod:`uer.data.format`: the single-file, memory-mappable dataset format.
- :mod:`uer.data.corpus`: corpus checks, sharding at document boundaries, line streaming.
- :mod:`uer.data.masking`: static/dynamic, span and whole-word MLM masking.
- :mod:`uer.data.processors`: ``DATA_PROCESSORS``, one instance builder + collator per target.
- :mod:`uer.data.pipeline`: the multi-process preprocessing run.
- :mod:`uer.data.loader`: the endless, resumable pre-training batch loader (imports torch).

Submodules are imported on demand so preprocess.py never pays for importing torch.
"""
