"""Turn the store of raw figures into one markdown table: medians, ours/peer ratios, goals.

A cell shows the median and, with several repeats, ``[min-max]``. The ratio column is
ours/peer (medians of the same run); for times and memory lower is better, so < 1 favours us.
The goal column compares our median with the original UER-py's figures and targets quoted in the
pre-training and fine-tuning issues.
"""
import statistics
from typing import Callable, Dict, List, Optional, Tuple

from ceiling import training_flops_per_token

GoalFn = Callable[[float, Dict], Tuple[str, Optional[bool]]]


def med(values: List[float]) -> Optional[float]:
    return statistics.median(values) if values else None


def fmt(value: Optional[float]) -> str:
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}" if abs(value) >= 0.1 else f"{value:.3f}"


def cell(values: List[float]) -> str:
    if not values:
        return "-"
    text = fmt(med(values))
    return text + (f" [{fmt(min(values))}-{fmt(max(values))}]" if len(values) > 1 else "")


def at_least(target: float, text: str) -> GoalFn:
    return lambda v, _: (f"{text}: {'met' if v >= target else 'not met'}", v >= target)


def at_most(target: float, text: str) -> GoalFn:
    return lambda v, _: (f"{text}: {'met' if v <= target else 'not met'}", v <= target)


def faster_than(original: float, factor: float, label: str) -> GoalFn:
    """Times: original / ours >= factor."""
    return lambda v, _: (f"{label}; {original / v:.1f}x (goal >= {factor:g}x)", original / v >= factor)


# The issues quote the original's speeds from a machine whose bare SDPA BERT-mini training step ran at
# ~6,400 real tokens/s (issue 3). On another CPU the model-bound rates below are compared with the
# original's scaled by this run's ceiling / 6,400: the original spends its time in the same matmuls.
ISSUE_MACHINE_CEILING_TOKENS = 6400.0


def ratio_of(original: float, factor: float, label: str) -> GoalFn:
    """Rates: ours / original >= factor; the original's rate scaled to this CPU when the ceiling was
    measured on a machine more than 10% off the issues' (``extra["machine_factor"]``)."""
    def check(v: float, extra: Dict) -> Tuple[str, Optional[bool]]:
        scale = extra.get("machine_factor")
        if scale and abs(scale - 1.0) > 0.1:
            here = original * scale
            return (f"{label}, x{scale:.2f} on this CPU = {fmt(here)}; {v / here:.1f}x (goal >= {factor:g}x)",
                    v / here >= factor)
        return f"{label}; {v / original:.1f}x (goal >= {factor:g}x)", v / original >= factor
    return check


def accuracy_goal(original: float, slack: float) -> GoalFn:
    def check(v: float, extra: Dict) -> Tuple[str, Optional[bool]]:
        if extra.get("partial"):
            return f"orig {original} (not comparable: partial run)", None
        return at_least(original - slack, f"orig {original}, goal >= {original - slack:.1f}")(v, extra)
    return check


# (part, item label, metric label, metric key, ours item, peer item or None, peer label, goal)
ROWS = [
    ("preprocess", "bert, book_review_bert", "wall time (s)", "wall_s", "pp_bert_ours", "pp_bert_peer",
     "tokenize only", faster_than(7.3, 2, "orig 7.3 s")),
    ("preprocess", "bert, book_review_bert", "peak RSS (MB)", "peak_rss_mb", "pp_bert_ours", "pp_bert_peer",
     "tokenize only", None),
    ("preprocess", "bert, book_review_bert", "output (MB)", "output_mb", "pp_bert_ours", "pp_bert_peer",
     "tokenize only", faster_than(52, 3, "orig 52 MB")),
    ("preprocess", "bert, book_review_bert", "instances", "instances", "pp_bert_ours", "pp_bert_peer",
     "lines", None),
    ("preprocess", "mlm, book_review", "wall time (s)", "wall_s", "pp_mlm_ours", "pp_mlm_peer", "tokenize only", None),
    ("preprocess", "mlm, book_review", "peak RSS (MB)", "peak_rss_mb", "pp_mlm_ours", "pp_mlm_peer",
     "tokenize only", None),
    ("preprocess", "mlm, book_review", "output (MB)", "output_mb", "pp_mlm_ours", "pp_mlm_peer", "tokenize only", None),
    ("preprocess", "mlm, book_review", "instances", "instances", "pp_mlm_ours", "pp_mlm_peer", "lines", None),
    ("preprocess", "bert, book_review_bert x10", "wall time (s)", "wall_s", "pp_bert10x_ours", "pp_bert10x_peer",
     "tokenize only", None),
    ("preprocess", "bert, book_review_bert x10", "peak RSS (MB)", "peak_rss_mb", "pp_bert10x_ours",
     "pp_bert10x_peer", "tokenize only", "flat"),
    ("preprocess", "bert, book_review_bert x10", "output (MB)", "output_mb", "pp_bert10x_ours", "pp_bert10x_peer",
     "tokenize only", None),
]
for _target, _peer, _goal_rate, _goal_mem in (
        ("bert", "BertForPreTraining", ratio_of(1650, 3.5, "orig 1,650"), at_most(850, "orig 1.7 GB, goal < 850 MB")),
        ("mlm", "BertForMaskedLM", None, None),
        ("lm", "plain PyTorch nn.LSTM LM", ratio_of(1075, 1, "orig 1,075"), None)):
    _item = "BERT-mini" if _target != "lm" else "LSTM LM (rnn_config)"
    ROWS += [
        ("pretrain", f"{_item}, --target {_target}", "real tokens/s", "real_tokens_per_s", f"pt_{_target}_ours",
         f"pt_{_target}_peer", _peer, _goal_rate),
        ("pretrain", f"{_item}, --target {_target}", "s/step", "s_per_step", f"pt_{_target}_ours",
         f"pt_{_target}_peer", _peer, None),
        ("pretrain", f"{_item}, --target {_target}", "peak RSS (MB)", "peak_rss_mb", f"pt_{_target}_ours",
         f"pt_{_target}_peer", _peer, _goal_mem),
        ("pretrain", f"{_item}, --target {_target}", "model GFLOP/s (% of matmul)", "gflops", f"pt_{_target}_ours",
         f"pt_{_target}_peer", _peer, None),
    ]
for _peer_item, _peer_label in (("ft_bert_hf_bucket", "BertForSequenceClassification, length-bucketed"),
                                ("ft_bert_hf_padded", "BertForSequenceClassification, padded to 128")):
    ROWS += [
        ("finetune", "BERT-mini douban, random init", "train examples/s", "examples_per_s", "ft_bert_ours", _peer_item,
         _peer_label, ratio_of(40, 5, "orig 36-40")),
        ("finetune", "BERT-mini douban, random init", "epoch time (s)", "epoch_s", "ft_bert_ours", _peer_item,
         _peer_label, None),
        ("finetune", "BERT-mini douban, random init", "dev acc (%)", "dev_acc", "ft_bert_ours", _peer_item,
         _peer_label, accuracy_goal(80.6, 0.5)),
        ("finetune", "BERT-mini douban, random init", "test acc (%)", "test_acc", "ft_bert_ours", _peer_item,
         _peer_label, accuracy_goal(79.9, 0.5)),
        ("finetune", "BERT-mini douban, random init", "peak RSS (MB)", "peak_rss_mb", "ft_bert_ours", _peer_item,
         _peer_label, at_most(800, "orig 1.6 GB, goal < 800 MB")),
        ("finetune", "BERT-mini douban, random init", "whole process (s)", "wall_s", "ft_bert_ours", _peer_item,
         _peer_label, None),
    ]
ROWS += [
    ("finetune", "LSTM douban (--pooling mean)", "train examples/s", "examples_per_s", "ft_lstm_ours", None, "",
     ratio_of(54, 1, "orig 54")),
    ("finetune", "LSTM douban (--pooling mean)", "dev acc (%)", "dev_acc", "ft_lstm_ours", None, "",
     accuracy_goal(81.7, 0.0)),
    ("finetune", "LSTM douban (--pooling mean)", "test acc (%)", "test_acc", "ft_lstm_ours", None, "",
     accuracy_goal(81.0, 0.0)),
    ("finetune", "LSTM douban (--pooling mean)", "peak RSS (MB)", "peak_rss_mb", "ft_lstm_ours", None, "", None),
    ("inference", "BERT-mini classifier, test_nolabel", "examples/s, whole process", "whole_examples_per_s",
     "inf_ours", "inf_peer", "BertForSequenceClassification", ratio_of(111, 6, "orig 111")),
    ("inference", "BERT-mini classifier, test_nolabel", "examples/s, in loop", "loop_examples_per_s", "inf_ours",
     "inf_peer", "BertForSequenceClassification", None),
    ("inference", "BERT-mini classifier, test_nolabel", "peak RSS (MB)", "peak_rss_mb", "inf_ours", "inf_peer",
     "BertForSequenceClassification", None),
    ("inference", "BERT-mini classifier, test_nolabel", "prediction acc vs test.tsv (%)", "prediction_acc",
     "inf_ours", "inf_peer", "BertForSequenceClassification", None),
]

CEILING_ROWS = [
    ("fp32 matmul 2048x2048x2048 (GFLOP/s)", "matmul_square_gflops"),
    ("fp32 matmul at BERT-mini FFN shape (GFLOP/s)", "matmul_ffn_gflops"),
    ("SDPA BERT-mini train step, real tokens/s", "tokens_per_s"),
    ("SDPA BERT-mini train step, s/step", "s_per_step"),
    ("SDPA BERT-mini forward+backward only, tokens/s", "fwd_bwd_tokens_per_s"),
    ("SDPA BERT-mini train step, model GFLOP/s", "gflops"),
]


def add_model_flops(data: Dict, configs: Dict[str, Dict], vocab_size: int) -> None:
    """Model GFLOP/s of each pre-training item from its real tokens/s (same FLOPs per token for both
    tools: padding and full-vocabulary logits computed by a tool count as waste, not work)."""
    for target, config in configs.items():
        per_token = training_flops_per_token(config, vocab_size, target)
        for side in ("ours", "peer"):
            item = data.get(f"pt_{target}_{side}")
            if item:
                item["metrics"]["gflops"] = [t * per_token / 1e9 for t in item["metrics"].get("real_tokens_per_s", [])]


def _pct(value: Optional[float], whole: Optional[float]) -> str:
    return f"{100 * value / whole:.0f}%" if value is not None and whole else "-"


def render(data: Dict, notes: Dict[str, str]) -> str:
    """The markdown table (and its notes) of everything measured in ``data``."""
    values = lambda item, key: data.get(item, {}).get("metrics", {}).get(key, [])  # noqa: E731
    # The hardware's reference: the better of the two measured matmul shapes.
    matmuls = [m for m in (med(values("ceiling", "matmul_square_gflops")), med(values("ceiling", "matmul_ffn_gflops")))
               if m is not None]
    matmul = max(matmuls) if matmuls else None
    ceiling_tokens = med(values("ceiling", "tokens_per_s"))
    lines = ["| part | item | metric | ours | peer | peer value | ours/peer | goal (vs original UER-py) |",
             "|---|---|---|---|---|---|---|---|"]
    for part, item_label, metric_label, key, ours_item, peer_item, peer_label, goal in ROWS:
        ours, peer = values(ours_item, key), values(peer_item, key) if peer_item else []
        if not ours and not peer:
            continue
        o, p = med(ours), med(peer)
        ratio = f"{o / p:.2f}" if o is not None and p else "-"
        goal_text = ""
        if key == "gflops":
            goal_text = f"ours {_pct(o, matmul)}, peer {_pct(p, matmul)} of matmul"
            if ours_item == "pt_bert_ours" and ceiling_tokens:
                tokens = med(values(ours_item, "real_tokens_per_s"))
                share = tokens / ceiling_tokens
                goal_text += f"; {100 * share:.0f}% of the SDPA ceiling's tokens/s (goal >= 90%: " \
                             f"{'met' if share >= 0.9 else 'not met'})"
        elif goal == "flat":
            base = med(values(ours_item.replace("10x", ""), key))
            if o is not None and base:
                goal_text = f"x10 corpus / x1: {o / base:.2f}x (goal <= 1.2x: {'met' if o / base <= 1.2 else 'not met'})"
        elif goal is not None and o is not None:
            machine_factor = ceiling_tokens / ISSUE_MACHINE_CEILING_TOKENS if ceiling_tokens else None
            goal_text = goal(o, {"partial": notes.get("partial_finetune"), "machine_factor": machine_factor})[0]
        lines.append(f"| {part} | {item_label} | {metric_label} | {cell(ours)} | {peer_label or '-'} | "
                     f"{cell(peer)} | {ratio} | {goal_text} |")
    for label, key in CEILING_ROWS:
        if values("ceiling", key):
            extra = f"{_pct(med(values('ceiling', key)), matmul)} of matmul" if key == "gflops" else ""
            lines.append(f"| ceiling | bare PyTorch on this CPU | {label} | {cell(values('ceiling', key))} | - | - | - "
                         f"| {extra} |")
    return "\n".join(lines)
