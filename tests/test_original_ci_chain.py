"""The original UER-py's CI chain (its .travis.yml at commit 0dc5db3), command for command.

The 26 commands below are the original's, word for word (../shared/reference/UER_PY_CI_CHAIN.md),
run in order with bash from a scratch copy of the repository root, so they read `models/`,
`corpora/` and `datasets/` at the paths they name and their outputs stay out of the repository.
Only what keeps the chain short changes: fine-tuning runs 1 epoch (`--epochs_num N` becomes 1) and
`models/albert/base_config.json` is, in the scratch copy, ALBERT base shrunk to 2 layers of 64
(the real one took 12.5 minutes on 2 cores). `python` is the interpreter running the tests. The
whole chain takes about 95 s on 2 cores.
Every command must exit 0 and write what it promises (dataset, checkpoint, moved model, fine-tuned
model, predictions for every test line or question).
"""
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from typing import Dict, List

import pytest

from tests.conftest import REPO

CHAIN = r"""
python preprocess.py --corpus_path corpora/book_review_bert.txt --vocab_path models/google_zh_vocab.txt --dataset_path bert_dataset.pt --processes_num 8 --target bert --seq_length 64
python pretrain.py --dataset_path bert_dataset.pt --vocab_path models/google_zh_vocab.txt --output_model_path models/bert_model.bin --config_path models/bert/mini_config.json --embedding word_pos_seg --encoder transformer --mask fully_visible --target bert --total_steps 10 --save_checkpoint_steps 10 --report_steps 2 --batch_size 2
mv models/bert_model.bin-10 models/bert_model.bin
python preprocess.py --corpus_path corpora/book_review.txt --vocab_path models/google_zh_vocab.txt --dataset_path roberta_dataset.pt --processes_num 8 --target mlm --seq_length 64 --dynamic_masking
python pretrain.py --dataset_path roberta_dataset.pt --vocab_path models/google_zh_vocab.txt --output_model_path models/roberta_model.bin --config_path models/bert/mini_config.json --embedding word_pos_seg --encoder transformer --mask fully_visible --target mlm --total_steps 10 --save_checkpoint_steps 10 --report_steps 2 --batch_size 2
mv models/roberta_model.bin-10 models/roberta_model.bin
python preprocess.py --corpus_path corpora/book_review_bert.txt --vocab_path models/google_zh_vocab.txt --dataset_path albert_dataset.pt --processes_num 8 --target albert --seq_length 64
python pretrain.py --dataset_path albert_dataset.pt --vocab_path models/google_zh_vocab.txt --output_model_path models/albert_model.bin --config_path models/albert/base_config.json --embedding word_pos_seg --encoder transformer --mask fully_visible --factorized_embedding_parameterization --parameter_sharing --target albert --total_steps 10 --save_checkpoint_steps 10 --report_steps 2 --batch_size 2
mv models/albert_model.bin-10 models/albert_model.bin
python preprocess.py --corpus_path corpora/book_review.txt --vocab_path models/google_zh_vocab.txt --dataset_path lm_dataset.pt --processes_num 8 --target lm --seq_length 64
python pretrain.py --dataset_path lm_dataset.pt --vocab_path models/google_zh_vocab.txt --output_model_path models/gpt_model.bin --config_path models/bert/mini_config.json --embedding word_pos --encoder transformer --mask causal --target lm --total_steps 10 --save_checkpoint_steps 10 --report_steps 2 --batch_size 2
mv models/gpt_model.bin-10 models/gpt_model.bin
python preprocess.py --corpus_path corpora/book_review_bert.txt --vocab_path models/google_zh_vocab.txt --dataset_path spanbert_dataset.pt --processes_num 8 --target bert --seq_length 64 --span_masking
python pretrain.py --dataset_path spanbert_dataset.pt --vocab_path models/google_zh_vocab.txt --output_model_path models/spanbert_model.bin --config_path models/bert/mini_config.json --embedding word_pos_seg --encoder transformer --mask fully_visible --target bert --total_steps 10 --save_checkpoint_steps 10 --report_steps 2 --batch_size 2
mv models/spanbert_model.bin-10 models/spanbert_model.bin
python preprocess.py --corpus_path corpora/book_review_cls.txt --vocab_path models/google_zh_vocab.txt --dataset_path cls_dataset.pt --processes_num 8 --target cls --seq_length 64
python pretrain.py --dataset_path cls_dataset.pt --vocab_path models/google_zh_vocab.txt --output_model_path models/cls_model.bin --config_path models/bert/mini_config.json --embedding word_pos_seg --encoder transformer --mask fully_visible --target cls --total_steps 10 --save_checkpoint_steps 10 --report_steps 2 --batch_size 2 --labels_num 2
mv models/cls_model.bin-10 models/cls_model.bin
python run_classifier.py --pretrained_model_path models/bert_model.bin --vocab_path models/google_zh_vocab.txt --config_path models/bert/mini_config.json --output_model_path models/classifier_model.bin --train_path datasets/test_data/chnsenticorp_test/train.tsv --dev_path datasets/test_data/chnsenticorp_test/dev.tsv --epochs_num 3 --batch_size 2 --embedding word_pos_seg --encoder transformer --mask fully_visible
python inference/run_classifier_infer.py --load_model_path models/classifier_model.bin --vocab_path models/google_zh_vocab.txt --config_path models/bert/mini_config.json --test_path datasets/test_data/chnsenticorp_test/test_nolabel.tsv --prediction_path datasets/test_data/chnsenticorp_test/prediction.tsv --embedding word_pos_seg --encoder transformer --mask fully_visible --labels_num 2
python run_classifier.py --pretrained_model_path models/albert_model.bin --vocab_path models/google_zh_vocab.txt --config_path models/albert/base_config.json --output_model_path models/classifier_model.bin --train_path datasets/test_data/chnsenticorp_test/train.tsv --dev_path datasets/test_data/chnsenticorp_test/dev.tsv --learning_rate 4e-5 --epochs_num 3 --batch_size 2 --embedding word_pos_seg --encoder transformer --mask fully_visible --factorized_embedding_parameterization --parameter_sharing
python run_mt_classifier.py --pretrained_model_path models/bert_model.bin --vocab_path models/google_zh_vocab.txt --config_path models/bert/mini_config.json --dataset_path_list datasets/test_data/douban_test/ datasets/test_data/chnsenticorp_test/ --epochs_num 1 --batch_size 2 --embedding word_pos_seg --encoder transformer --mask fully_visible
python run_ner.py --pretrained_model_path models/bert_model.bin --vocab_path models/google_zh_vocab.txt --config_path models/bert/mini_config.json --output_model_path models/ner_model.bin --train_path datasets/test_data/msra_ner_test/train.tsv --dev_path datasets/test_data/msra_ner_test/dev.tsv --label2id_path datasets/msra_ner/label2id.json --epochs_num 2 --batch_size 2 --embedding word_pos_seg --encoder transformer --mask fully_visible
python inference/run_ner_infer.py --load_model_path models/ner_model.bin --vocab_path models/google_zh_vocab.txt --config_path models/bert/mini_config.json --test_path datasets/test_data/msra_ner_test/test_nolabel.tsv --prediction_path datasets/test_data/msra_ner_test/prediction.tsv --label2id_path datasets/msra_ner/label2id.json --embedding word_pos_seg --encoder transformer --mask fully_visible
python run_cmrc.py --pretrained_model_path models/bert_model.bin --vocab_path models/google_zh_vocab.txt --config_path models/bert/mini_config.json --output_model_path models/cmrc_model.bin --train_path datasets/test_data/cmrc_test/train.json --dev_path datasets/test_data/cmrc_test/dev.json --epochs_num 2 --batch_size 2 --embedding word_pos_seg --encoder transformer --mask fully_visible --seq_length 128
python inference/run_cmrc_infer.py --load_model_path models/cmrc_model.bin --vocab_path models/google_zh_vocab.txt --config_path models/bert/mini_config.json --test_path datasets/test_data/cmrc_test/test.json --prediction_path datasets/test_data/cmrc_test/prediction.json --embedding word_pos_seg --encoder transformer --mask fully_visible --seq_length 128
"""
# Outputs of the fine-tuning commands that name none: the scripts' defaults.
DEFAULT_OUTPUTS = {"run_classifier.py": "models/finetuned_model.bin",
                   "run_mt_classifier.py": "models/multitask_classifier_model.bin"}
TINY_ALBERT = {"emb_size": 32, "hidden_size": 64, "feedforward_size": 128, "heads_num": 2, "layers_num": 2}
SCRIPTS = ("preprocess.py", "pretrain.py", "inference", "run_classifier.py", "run_mt_classifier.py", "run_ner.py",
           "run_cmrc.py")


def chain_commands() -> List[str]:
    return [line for line in CHAIN.splitlines() if line.strip()]


def shrink(command: str) -> str:
    return re.sub(r"--epochs_num \d+", "--epochs_num 1", command)


def options(command: str) -> Dict[str, str]:
    """``--flag value`` pairs of a command line (flags without a value map to '')."""
    words = shlex.split(command)
    found = {}
    for i, word in enumerate(words):
        if word.startswith("--"):
            value = words[i + 1] if i + 1 < len(words) and not words[i + 1].startswith("--") else ""
            found[word[2:]] = value
    return found


def promised_files(command: str) -> List[str]:
    """The files a command of the chain must leave behind."""
    words, flags = shlex.split(command), options(command)
    if words[0] == "mv":
        return [words[2]]
    script = os.path.basename(words[1])
    if script == "preprocess.py":
        return [flags["dataset_path"]]
    if script == "pretrain.py":
        return [f"{flags['output_model_path']}-{flags['total_steps']}"]
    if script.startswith("run_") and script.endswith("_infer.py"):
        return [flags["prediction_path"]]
    return [flags.get("output_model_path") or DEFAULT_OUTPUTS[script]]


@pytest.fixture
def original_root(tmp_path):
    """A scratch directory laid out like the repository root: scripts linked, data copied."""
    for name in SCRIPTS:
        os.symlink(os.path.join(REPO, name), tmp_path / name)
    for name in ("models", "corpora", "datasets"):
        shutil.copytree(os.path.join(REPO, name), tmp_path / name,
                        ignore=shutil.ignore_patterns("*.bin", "*.bin-*", "prediction.*"))
    albert = tmp_path / "models" / "albert" / "base_config.json"
    config = json.loads(albert.read_text(encoding="utf-8"))
    albert.write_text(json.dumps({**config, **TINY_ALBERT}), encoding="utf-8")
    # `python` as the original's CI had it: the interpreter running these tests.
    bin_dir = tmp_path / ".bin"
    bin_dir.mkdir()
    os.symlink(sys.executable, bin_dir / "python")
    return tmp_path


def test_chain_is_the_original_one():
    commands = chain_commands()
    assert len(commands) == 26
    assert sum(command.startswith("python pretrain.py") for command in commands) == 6
    assert {options(c)["target"] for c in commands if c.startswith("python pretrain.py")} == \
        {"bert", "mlm", "albert", "lm", "cls"}


def test_original_ci_chain_runs_as_written(original_root):
    env = dict(os.environ, PATH=f"{original_root / '.bin'}{os.pathsep}{os.environ['PATH']}", OMP_NUM_THREADS="1",
               PYTHONUNBUFFERED="1")
    for command in chain_commands():
        command = shrink(command)
        result = subprocess.run(["bash", "-c", command], cwd=original_root, env=env, capture_output=True, text=True)
        assert result.returncode == 0, f"{command}\n--- output ---\n{result.stdout[-2000:]}{result.stderr[-3000:]}"
        for path in promised_files(command):
            assert os.path.getsize(original_root / path) > 0, f"{command}\ndid not write {path}"

    # Predictions cover every test line and question, in the formats the original writes.
    for task, column in (("chnsenticorp_test", "label"), ("msra_ner_test", "pred_label")):
        folder = original_root / "datasets" / "test_data" / task
        predictions = (folder / "prediction.tsv").read_text(encoding="utf-8").splitlines()
        inputs = (folder / "test_nolabel.tsv").read_text(encoding="utf-8").splitlines()
        assert predictions[0] == column and len(predictions) == len(inputs)
    cmrc = original_root / "datasets" / "test_data" / "cmrc_test"
    answers = json.loads((cmrc / "prediction.json").read_text(encoding="utf-8"))
    questions = [qa["id"] for article in json.loads((cmrc / "test.json").read_text(encoding="utf-8"))["data"]
                 for paragraph in article["paragraphs"] for qa in paragraph["qas"]]
    assert sorted(answers) == sorted(questions)
