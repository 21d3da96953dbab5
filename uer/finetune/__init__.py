"""Fine-tuning library: a task is a reader (file -> TaskDataset), a head (uer/models) and a metric.

See docs/architecture.md, section "Fine-tuning", for the API and how to add a task.
"""
from uer.finetune.checkpoint import evaluates_here, fold_path, load_for_inference, load_pretrained, read_sidecar, save_finetuned
from uer.finetune.classification import (ClassificationResult, evaluate_classifier, prediction_lines,
                                         read_classification)
from uer.finetune.inputs import MixedBatches, PairEncoder, TaskDataset, check_seq_length, pad_stack, truncate_pair
from uer.finetune.metrics import (accuracy, classification_report, confusion_matrix, entity_prf, extract_entities,
                                  macro_f1, mean_reciprocal_rank, precision_recall_f1)
from uer.finetune.predict import predict, softmax
from uer.finetune.session import start_session, to_device
from uer.finetune.tagging import evaluate_tagger, predict_tags, read_tagging
from uer.finetune.trainer import FitResult, fit
from uer.finetune.tsv import TsvRow, parse_floats, parse_label, read_json_file, read_label2id, read_tsv

__all__ = [
    "evaluates_here",
    "ClassificationResult", "FitResult", "MixedBatches", "PairEncoder", "TaskDataset", "TsvRow", "accuracy",
    "check_seq_length", "classification_report", "confusion_matrix", "entity_prf", "evaluate_classifier",
    "evaluate_tagger", "extract_entities", "fit", "fold_path", "load_for_inference", "load_pretrained",
    "macro_f1", "mean_reciprocal_rank", "pad_stack", "parse_floats", "parse_label", "precision_recall_f1",
    "predict", "predict_tags", "prediction_lines", "read_classification", "read_json_file", "read_label2id",
    "read_sidecar", "read_tagging", "read_tsv", "save_finetuned", "softmax", "start_session", "to_device",
    "truncate_pair",
]
