"""Command-line option groups shared by every script; ``choices=`` come from the registries."""
import argparse
from typing import Any

from uer.data.batch_order import BATCH_ORDERS
from uer.decoders import DECODERS
from uer.embeddings import EMBEDDINGS
from uer.encoders import ENCODERS
from uer.layers.masks import MASK_CHOICES
from uer.targets import TARGETS
from uer.utils.act_fun import ACTIVATIONS
from uer.utils.pooling import POOLING_CHOICES

DEFAULT_CONFIG = "models/bert/base_config.json"


def size_opts(parser: argparse.ArgumentParser) -> None:
    """Model sizes; usually set by a ``--config_path`` preset (BERT-base values by default)."""
    group = parser.add_argument_group("model sizes (usually from --config_path)")
    group.add_argument("--emb_size", type=int, default=768)
    group.add_argument("--hidden_size", type=int, default=768)
    group.add_argument("--feedforward_size", type=int, default=3072)
    group.add_argument("--heads_num", type=int, default=12)
    group.add_argument("--attention_head_size", type=int, default=None,
                       help="Per-head width (T5 v1.1); default hidden_size / heads_num.")
    group.add_argument("--layers_num", type=int, default=12)
    group.add_argument("--decoder_layers_num", type=int, default=None, help="Default: layers_num.")
    group.add_argument("--hidden_act", choices=ACTIVATIONS.names(), default="gelu")
    group.add_argument("--layernorm_eps", type=float, default=1e-6)
    group.add_argument("--kernel_size", type=int, default=3, help="gatedcnn kernel width.")
    group.add_argument("--block_size", type=int, default=2, help="gatedcnn layers per residual block.")


def model_opts(parser: argparse.ArgumentParser) -> None:
    """Architecture: one flag per variation, so BERT, GPT-2, T5 and ALBERT share one encoder."""
    size_opts(parser)
    group = parser.add_argument_group("architecture")
    group.add_argument("--embedding", choices=EMBEDDINGS.names(), default="word_pos_seg")
    group.add_argument("--tgt_embedding", choices=EMBEDDINGS.names(), default="word_pos_seg",
                       help="Decoder-side embedding of seq2seq/t5 targets.")
    group.add_argument("--max_seq_length", type=int, default=512, help="Rows of the position table.")
    group.add_argument("--relative_position_embedding", action="store_true",
                       help="T5 bucketed relative position bias.")
    group.add_argument("--relative_attention_num_buckets", "--relative_attention_buckets_num",
                       dest="relative_attention_num_buckets", type=int, default=32)
    group.add_argument("--share_relative_position_embedding", action="store_true",
                       help="Accepted for compatibility: T5 decoders only have a self-attention bias.")
    group.add_argument("--remove_embedding_layernorm", action="store_true")
    group.add_argument("--remove_embedding_layernorm_bias", action="store_true")
    group.add_argument("--encoder", choices=ENCODERS.names(), default="transformer")
    group.add_argument("--decoder", choices=DECODERS.names(), default="transformer")
    group.add_argument("--mask", choices=MASK_CHOICES, default="fully_visible")
    group.add_argument("--layernorm_positioning", choices=["post", "pre"], default="post")
    group.add_argument("--layernorm", choices=["normal", "t5"], default="normal",
                       help="t5 = RMS norm without mean and bias.")
    group.add_argument("--feed_forward", choices=["dense", "gated"], default="dense")
    group.add_argument("--remove_transformer_bias", action="store_true")
    group.add_argument("--remove_attention_scale", action="store_true", help="No 1/sqrt(d) scaling (T5).")
    group.add_argument("--bidirectional", action="store_true", help="For rnn/lstm/gru encoders.")
    group.add_argument("--factorized_embedding_parameterization", action="store_true", help="ALBERT.")
    group.add_argument("--parameter_sharing", action="store_true", help="ALBERT cross-layer sharing.")
    group.add_argument("--target", choices=TARGETS.names(), default="bert")
    group.add_argument("--tie_weights", action="store_true", help="Output layer shares the word embedding.")
    group.add_argument("--share_embedding", action="store_true",
                       help="t5/seq2seq: decoder word embedding shares the encoder's.")
    group.add_argument("--has_lmtarget_bias", action="store_true")
    group.add_argument("--pooling", choices=POOLING_CHOICES, default="first")
    group.add_argument("--labels_num", type=int, default=None, help="Classes of the cls target.")
    group.add_argument("--dropout", type=float, default=0.1)


def tokenizer_opts(parser: argparse.ArgumentParser) -> None:
    from uer.tokenizers import TOKENIZERS

    group = parser.add_argument_group("vocabulary and tokenizer")
    group.add_argument("--vocab_path", default=None,
                       help="Vocabulary file, one token per line (--tokenizer bpe: a vocab.json).")
    group.add_argument("--spm_model_path", default=None, help="SentencePiece model (replaces --vocab_path).")
    group.add_argument("--merges_path", default=None, help="--tokenizer bpe: the merges.txt of the vocab.json.")
    group.add_argument("--tokenizer", choices=TOKENIZERS.names(), default="bert")
    group.add_argument("--do_lower_case", type=_str2bool, default=True,
                       help="bert tokenizer: lowercase and strip accents (default true; false keeps case).")


def optimization_opts(parser: argparse.ArgumentParser) -> None:
    from uer.training.optimizers import OPTIMIZERS, SCHEDULERS

    group = parser.add_argument_group("optimization")
    group.add_argument("--learning_rate", type=float, default=2e-5)
    group.add_argument("--warmup", type=float, default=0.1, help="Warm-up fraction of the total steps.")
    group.add_argument("--weight_decay", type=float, default=0.01,
                       help="Decoupled weight decay for matrices (biases, norms and 1-D tensors excluded).")
    group.add_argument("--max_grad_norm", type=float, default=1.0, help="Gradient clipping; 0 disables it.")
    group.add_argument("--optimizer", choices=OPTIMIZERS.names(), default="adamw")
    group.add_argument("--adam_bias_correction", action="store_true",
                       help="adamw: apply Adam's bias correction (torch's AdamW). Default: none, as BERT and "
                            "the original UER-py, whose early updates are up to ~6x larger.")
    group.add_argument("--scheduler", choices=SCHEDULERS.names(), default="linear")
    precision = group.add_mutually_exclusive_group()
    precision.add_argument("--fp16", action="store_true", help="float16 autocast with a gradient scaler.")
    precision.add_argument("--bf16", action="store_true", help="bfloat16 autocast.")
    group.add_argument("--fp16_opt_level", default=None, help=argparse.SUPPRESS)
    group.add_argument("--activation_checkpointing", action="store_true",
                       help="Recompute each transformer layer's activations in backward instead of keeping them: "
                            "less memory (longer sequences, bigger batches) for about one more forward pass.")
    group.add_argument("--compile", action="store_true",
                       help="torch.compile each transformer layer (fused kernels; the first batches take longer "
                            "while it compiles). Needs a C++ compiler on CPU, Triton on CUDA.")


def batch_order_opts(group: Any) -> None:
    """``--batch_order`` and ``--micro_batches`` (fine-tuning and pre-training; uer.data.batch_order)."""
    group.add_argument("--batch_order", choices=BATCH_ORDERS, default="random",
                       help="random: every batch a random sample of the data, padded in length-sorted micro-batches "
                            "(see --micro_batches); bucketed: batches of similar lengths (least padding, fastest, "
                            "but the label mix of a batch follows length: short runs lose accuracy and may "
                            "collapse to one class).")
    group.add_argument("--micro_batches", type=int, default=4,
                       help="Cut each batch of mixed lengths into at most this many length-sorted "
                            "micro-batches, each padded to its own longest; their gradients are summed before "
                            "the one optimizer step (the same update, less padding). 1 pads the whole batch.")
    group.add_argument("--bucket_batches", type=int, default=100,
                       help="With --batch_order bucketed: how many batches' worth of shuffled examples are sorted "
                            "by length before they are cut into batches (1 = random batches).")


def training_opts(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("training")
    group.add_argument("--batch_size", type=int, default=32)
    group.add_argument("--seq_length", type=int, default=128)
    group.add_argument("--epochs_num", type=int, default=3)
    group.add_argument("--report_steps", type=int, default=100)
    group.add_argument("--seed", type=int, default=7)
    batch_order_opts(group)
    group.add_argument("--resume", default=None,
                       help="Continue an interrupted run (Ctrl-C saves <output_model_path>.state): 'auto' = that "
                            "state when it exists, or a state's path.")


def _str2bool(value: str) -> bool:
    lowered = str(value).lower()
    if lowered in ("1", "true", "yes", "y"):
        return True
    if lowered in ("0", "false", "no", "n"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got '{value}'")


def finetune_opts(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("paths")
    group.add_argument("--pretrained_model_path", default=None)
    group.add_argument("--output_model_path", default="models/finetuned_model.bin")
    group.add_argument("--train_path", required=True)
    group.add_argument("--dev_path", required=True)
    group.add_argument("--test_path", default=None)
    group.add_argument("--config_path", default=DEFAULT_CONFIG)
    model_opts(parser)
    tokenizer_opts(parser)
    optimization_opts(parser)
    training_opts(parser)


def infer_opts(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("paths")
    group.add_argument("--load_model_path", required=True)
    group.add_argument("--test_path", required=True)
    group.add_argument("--prediction_path", required=True)
    saved_model_opts(parser)


def saved_model_opts(parser: argparse.ArgumentParser) -> None:
    """What rebuilds a saved model and feeds it: preset, architecture, tokenizer, batch and length
    (the inference scripts and ``uer.load``)."""
    parser.add_argument("--config_path", default=DEFAULT_CONFIG)
    model_opts(parser)
    tokenizer_opts(parser)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--seq_length", type=int, default=128)
