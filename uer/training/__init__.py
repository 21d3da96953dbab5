"""The training runtime shared by pre-training (``uer.trainer``) and fine-tuning (``uer.finetune``).

``runtime`` (devices, processes, DDP via ``parallelize``, precision, logging), ``train_state``
(resumable states), ``interrupt`` (Ctrl-C), ``optimizers`` and ``adafactor`` (optimizers and
schedules), ``train_stats`` (report-line statistics), ``allocator`` (mimalloc for the scripts).

Deliberately empty of imports: the scripts import ``uer.training.allocator`` before torch loads.
"""
