"""The preprocessing run: check the corpus, build instances in worker processes, merge atomically.

Workers each take one shard of the corpus (cut at document boundaries), write raw array files
into a temporary directory beside the output, and report back; the parent draws the progress
bar, and any worker failure (an error in the corpus, a crash) stops the whole command. The
dataset file appears only once complete (written to a temporary name, then renamed).
"""
import logging
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
import traceback
from multiprocessing.connection import wait
from typing import Any, Callable, Dict, List, Optional

import numpy as np

import uer
from uer.data.corpus import Shard, iter_shard_lines, plan_shards, read_sample
from uer.data.format import vocab_fingerprint
from uer.data.masking import Masker, MaskingConfig
from uer.data.processors import DATA_PROCESSORS
from uer.data.processors.base import DataProcessor
from uer.data.writer import ShardSummary, ShardWriter, merge_shards
from uer.utils.constants import CLS_TOKEN, MASK_TOKEN, PAD_ID, SEP_TOKEN
from uer.utils.errors import UserInputError
from uer.utils.progress import ProgressBar

logger = logging.getLogger(__name__)


def build_processor(args: Any) -> DataProcessor:
    """The data processor of ``args.target`` with its tokenizer(s)."""
    from uer.tokenizers import build_tokenizer

    tokenizer = build_tokenizer(args)
    tgt_tokenizer = None
    has_tgt_vocab = getattr(args, "tgt_vocab_path", None) or getattr(args, "tgt_spm_model_path", None)
    if args.target == "seq2seq" and has_tgt_vocab:
        tgt_tokenizer = build_tokenizer(args, prefix="tgt_")
    return DATA_PROCESSORS.get(args.target).from_args(args, tokenizer, tgt_tokenizer)


def masking_config(processor: DataProcessor) -> MaskingConfig:
    """Masking settings from the processor's options; ids from its vocabulary."""
    vocab, settings = processor.tokenizer.vocab, processor.settings
    vocab.require([MASK_TOKEN], f"--target {processor.name} (masked tokens)")  # GPT-2's vocab.json has none
    special = (PAD_ID, vocab.get(CLS_TOKEN), vocab.get(SEP_TOKEN), vocab.get(MASK_TOKEN))
    return MaskingConfig(len(vocab), vocab.get(MASK_TOKEN), special, settings.span_masking,
                         settings.span_geo_prob, settings.span_max_length, settings.whole_word_masking)


def new_writer(processor: DataProcessor, directory: str, index: int) -> ShardWriter:
    """The writer of shard ``index``: static masking (if any) with a seed of its own."""
    settings = processor.settings
    static = processor.masked and not settings.dynamic_masking
    masker = Masker(masking_config(processor)) if static else None
    rng = np.random.default_rng([settings.seed & 0xFFFFFFFF, index])
    return ShardWriter(directory, index, processor.fields(), settings.seq_length, masker, rng,
                       word_flags=processor.word_flags, keep_word_starts=not static)


class ShardProgress:
    """Bytes and lines of a shard, as the progress bar should show them.

    Processors that buffer documents read a whole buffer before building anything; for them
    the bytes read since the last buffer count as done pass by pass (``commit``), so the bar
    and its ETA follow the work rather than the reading.
    """

    def __init__(self, callback: Callable[[int, int], None], buffered: bool):
        self.callback, self.buffered = callback, buffered
        self.bytes = self.lines = self.committed = 0

    def read(self, nbytes: int, nlines: int) -> None:
        self.bytes += nbytes
        self.lines += nlines
        if not self.buffered:
            self.callback(self.bytes, self.lines)

    def commit(self, fraction: float) -> None:
        """``fraction`` of the bytes read since the last full commit are processed."""
        self.callback(int(self.committed + (self.bytes - self.committed) * min(1.0, fraction)), self.lines)
        if fraction >= 1.0:
            self.committed = self.bytes


def process_shard(processor: DataProcessor, shard: Shard, directory: str,
                  on_progress: Callable[[int, int], None]) -> ShardSummary:
    """Build the instances of one shard into its array files in ``directory``."""
    progress = ShardProgress(on_progress, processor.buffered)
    processor.progress = progress
    writer = new_writer(processor, directory, shard.index)
    lines = iter_shard_lines(processor.settings.corpus_path, shard, progress.read)
    stats = processor.process(lines, writer, shard.index)
    summary = writer.close()
    summary.stats.update(stats, lines=progress.lines, bytes=progress.bytes)
    return summary


def _worker(job: Any, shard: Shard, directory: str, counters: Any, connection: Any) -> None:
    """Worker process body: every outcome, failures included, is sent back to the parent.

    ``job`` is the parent's processor (fork: inherited as is) or the options to rebuild it (spawn).
    """
    try:
        processor = job if isinstance(job, DataProcessor) else build_processor(job)

        def on_progress(nbytes: int, nlines: int) -> None:
            counters[2 * shard.index] = nbytes
            counters[2 * shard.index + 1] = nlines

        connection.send(("ok", process_shard(processor, shard, directory, on_progress)))
    except UserInputError as error:
        connection.send(("user", str(error)))
    except BaseException:  # noqa: B902 - report anything, the parent decides
        connection.send(("error", traceback.format_exc()))
    finally:
        connection.close()


def _run_workers(args: Any, processor: DataProcessor, shards: List[Shard], directory: str,
                 bar: ProgressBar) -> List[ShardSummary]:
    # fork shares the loaded vocabulary and modules; spawn (other platforms) rebuilds from args.
    method = "fork" if sys.platform.startswith("linux") else "spawn"
    context = multiprocessing.get_context(method)
    job = processor if method == "fork" else args
    counters = context.Array("q", 2 * len(shards), lock=False)
    processes, pending = [], {}
    try:
        for shard in shards:
            receiver, sender = context.Pipe(duplex=False)
            process = context.Process(target=_worker, args=(job, shard, directory, counters, sender), daemon=True)
            process.start()
            sender.close()
            processes.append(process)
            pending[receiver] = shard.index
        results: Dict[int, ShardSummary] = {}
        while pending:
            for receiver in wait(list(pending), timeout=0.25):
                index = pending.pop(receiver)
                try:
                    kind, payload = receiver.recv()
                except EOFError:
                    processes[index].join(5)
                    code = processes[index].exitcode
                    raise RuntimeError(f"preprocessing worker {index} died (exit code {code}), "
                                       f"possibly killed for lack of memory") from None
                if kind == "user":
                    raise UserInputError(payload)
                if kind == "error":
                    raise RuntimeError(f"preprocessing worker {index} failed:\n{payload}")
                results[index] = payload
            bar.update(sum(counters[0::2]), sum(counters[1::2]))
        return [results[shard.index] for shard in shards]
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
            process.join()


def check_options(args: Any, processor: DataProcessor) -> None:
    """Reject impossible option values; warn about options the target ignores."""
    checks = [
        (args.processes_num >= 1, "--processes_num must be at least 1"),
        (args.dup_factor >= 1, "--dup_factor must be at least 1"),
        (args.docs_buffer_size >= 1, "--docs_buffer_size must be at least 1"),
        (args.tgt_seq_length >= 1, "--tgt_seq_length must be at least 1"),
        (0.0 <= args.short_seq_prob <= 1.0, "--short_seq_prob must be in [0, 1]"),
        (0.0 < args.span_geo_prob <= 1.0, "--span_geo_prob must be in (0, 1]"),
        (args.span_max_length >= 1, "--span_max_length must be at least 1"),
    ]
    for ok, message in checks:
        if not ok:
            raise UserInputError(message)
    if os.path.isdir(args.dataset_path):
        raise UserInputError("--dataset_path is a directory; give a file name", path=args.dataset_path)
    if not processor.masked:
        for flag in ("dynamic_masking", "span_masking", "whole_word_masking"):
            if getattr(args, flag, False):
                logger.warning("--%s has no effect with --target %s (no masked LM)", flag, args.target)
    if args.target != "seq2seq":
        for flag in ("tgt_vocab_path", "tgt_spm_model_path"):
            if getattr(args, flag, None):
                logger.warning("--%s is only used by --target seq2seq", flag)
    if processor.dup_factor == 1 and args.dup_factor > 1:
        logger.info("--target %s%s builds each instance once (--dup_factor %d not used)", args.target,
                    " with --dynamic_masking" if processor.masked else "", args.dup_factor)


def build_header(args: Any, processor: DataProcessor, summaries: List[ShardSummary]) -> Dict[str, Any]:
    """The dataset header: what the loader and pretrain.py need to check and read the instances."""
    vocab = processor.tokenizer.vocab
    counts: Dict[str, int] = {"instances": sum(s.instances for s in summaries)}
    for summary in summaries:
        for key, value in summary.stats.items():
            counts[key] = counts.get(key, 0) + int(value)
    masking = None
    if processor.masked:
        masking = dict(masking_config(processor).to_dict(),
                       mode="dynamic" if processor.settings.dynamic_masking else "static")
    header = {
        "created_by": f"uer {uer.__version__} preprocess.py",
        "target": processor.name,
        "seq_length": processor.settings.seq_length,
        "tgt_seq_length": processor.settings.tgt_seq_length,
        "dup_factor": processor.dup_factor,
        "tokenizer": getattr(args, "tokenizer", None),
        "do_lower_case": getattr(args, "do_lower_case", True),
        "vocab": vocab_fingerprint(vocab),
        "special_ids": {"pad": PAD_ID, "cls": vocab.get(CLS_TOKEN), "sep": vocab.get(SEP_TOKEN),
                        "mask": vocab.get(MASK_TOKEN)},
        "masking": masking,
        "counts": counts,
        "fields": {f.name: {"kind": f.kind, "width": f.width} for f in processor.fields()},
        "settings": {"seed": args.seed, "short_seq_prob": args.short_seq_prob, "full_sentences": args.full_sentences,
                     "docs_buffer_size": args.docs_buffer_size, "processes_num": args.processes_num},
        "corpus": {"path": os.path.abspath(args.corpus_path), "bytes": os.path.getsize(args.corpus_path)},
    }
    if processor.name == "cls":
        header["labels_num"] = max(s.label_max for s in summaries) + 1
    header.update(processor.header())
    return header


def preprocess(args: Any, progress: Optional[bool] = None) -> Dict[str, Any]:
    """Run preprocessing as ``args`` (preprocess.py's options) says; returns the dataset header."""
    started = time.monotonic()
    processor = build_processor(args)
    check_options(args, processor)
    size, sample = read_sample(args.corpus_path)
    processor.check_corpus(args.corpus_path, sample)
    boundary, multiple = processor.shard_boundary()
    shards = (plan_shards(args.corpus_path, size, args.processes_num, boundary, multiple)
              if args.processes_num > 1 else [Shard(0, 0, size, 1)])
    if len(shards) < args.processes_num:
        logger.info("the corpus splits into %d shard(s) at %s boundaries: using %d process(es)",
                    len(shards), boundary, len(shards))
    output = os.path.abspath(args.dataset_path)
    os.makedirs(os.path.dirname(output), exist_ok=True)
    directory = tempfile.mkdtemp(prefix=f".{os.path.basename(output)}.shards-", dir=os.path.dirname(output))
    bar = ProgressBar(size, "preprocess", enabled=progress if progress is not None else True)
    try:
        if len(shards) == 1:
            summaries = [process_shard(processor, shards[0], directory, lambda b, n: bar.update(b, n))]
        else:
            summaries = _run_workers(args, processor, shards, directory, bar)
        bar.update(size, sum(s.stats.get("lines", 0) for s in summaries), force=False)
        bar.close()
        header = build_header(args, processor, summaries)
        if header["counts"]["instances"] == 0:
            raise UserInputError(f"no instance could be built for --target {processor.name} (is the corpus "
                                 f"in the format this target reads?)", path=args.corpus_path)
        nbytes = merge_shards(output, header, new_writer(processor, directory, 0), directory, summaries)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    _log_summary(header, nbytes, output, time.monotonic() - started)
    return header


def _log_summary(header: Dict[str, Any], nbytes: int, path: str, seconds: float) -> None:
    counts = header["counts"]
    if counts.get("header_lines"):
        logger.info("skipped the header line of the corpus")
    for key in ("empty_lines", "blank_lines", "empty_sentences", "special_only_pieces"):
        if counts.get(key):
            logger.warning("skipped %d %s (nothing to learn from them)", counts[key], key.replace("_", " "))
    details = ", ".join(f"{k} {v}" for k, v in counts.items() if k not in ("instances", "bytes"))
    logger.info("wrote %d instances to %s (%.1f MB) in %.1f s; %s", counts["instances"], path,
                nbytes / 1e6, seconds, details)
