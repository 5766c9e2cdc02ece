"""polynomial_decay_warmup_ratio: totals from the data, warmup ratio, decay values."""

import pytest
from fairseq import options
from fairseq.dataclass.utils import convert_namespace_to_omegaconf
from fairseq.optim import FairseqOptimizer
from fairseq.optim.lr_scheduler import build_lr_scheduler

from unival.optim import count_rows, schedule_total_updates


class FakeOptimizer(FairseqOptimizer):
    def __init__(self):
        self.lr = None

    def set_lr(self, lr):
        self.lr = lr

    def get_lr(self):
        return self.lr


def build(tmp_path, task, data, *extra):
    argv = [
        data,
        "--task",
        task,
        "--arch",
        "unival_tiny",
        "--optimizer",
        "adam",
        "--lr",
        "1e-3",
        "--lr-scheduler",
        "polynomial_decay_warmup_ratio",
        "--batch-size",
        "3",
        *extra,
    ]
    if task == "unify_task":
        argv += ["--dict-path", "unused"]
    args = options.parse_args_and_arch(options.get_training_parser(), argv)
    cfg = convert_namespace_to_omegaconf(args)
    return build_lr_scheduler(cfg.lr_scheduler, FakeOptimizer())


def test_count_rows_and_totals(tmp_path):
    (tmp_path / "a.tsv").write_text("1\n2\n3\n")
    (tmp_path / "b.tsv").write_text("1\n2\n3\n4\n5")  # no final newline
    assert count_rows(str(tmp_path / "a.tsv")) == 3 and count_rows(str(tmp_path / "b.tsv")) == 5
    # 10 rows, batch 3 -> 4 batches, update_freq 2 -> 2 updates per epoch; 3 epochs -> 6
    assert schedule_total_updates([10], 3, 3, [2]) == 6
    # files alternate (3 rows: 1 batch -> 1 update; 5 rows: 2 batches -> 1 update),
    # 2 ranks halve the rows
    assert schedule_total_updates([3, 5], 4, 1, [1], world_size=2) == 2 + 3 + 2 + 3


def test_unify_task_counts_every_file_and_finetuning_drops_the_validation_file(tmp_path):
    for name, rows in (("t1", 9), ("t2", 12), ("v", 100)):
        (tmp_path / f"{name}.tsv").write_text("x\n" * rows)
    files = f"{tmp_path}/t1.tsv,{tmp_path}/t2.tsv"
    pretrain = build(tmp_path, "unify_task", files, "--max-epoch", "4", "--warmup-ratio", "0.25")
    pretrain.step_update(0)
    assert pretrain.total == 3 + 4 + 3 + 4 and pretrain.warmup == int(14 * 0.25) == 3
    finetune = build(tmp_path, "refcoco", files + f",{tmp_path}/v.tsv", "--max-epoch", "4")
    finetune.step_update(0)
    assert finetune.total == 14 and finetune.warmup == 0


def test_learning_rate_values(tmp_path):
    (tmp_path / "t.tsv").write_text("x\n" * 30)
    sched = build(
        tmp_path,
        "unify_task",
        str(tmp_path / "t.tsv"),
        "--max-epoch",
        "2",
        "--warmup-ratio",
        "0.1",
        "--end-learning-rate",
        "1e-4",
    )
    # 30 rows / batch 3 = 10 updates per epoch, 20 in all; warmup int(2.0) = 2
    expected = {
        0: 0.0,
        1: 5e-4,
        2: 1e-3,
        11: (1e-3 - 1e-4) * (1 - 9 / 18) + 1e-4,
        20: 1e-4,
        25: 1e-4,
    }
    for update, lr in expected.items():
        assert sched.step_update(update) == pytest.approx(lr)
        assert sched.optimizer.get_lr() == pytest.approx(lr)
    fixed = build(
        tmp_path,
        "unify_task",
        str(tmp_path / "t.tsv"),
        "--max-epoch",
        "2",
        "--total-num-update",
        "8",
        "--warmup-ratio",
        "0.5",
    )
    assert fixed.step_update(2) == pytest.approx(5e-4) and fixed.step_update(6) == pytest.approx(
        5e-4
    )
    with pytest.raises(ValueError, match="warmup-ratio"):
        build(tmp_path, "unify_task", str(tmp_path / "t.tsv"), "--warmup-ratio", "1.5")
