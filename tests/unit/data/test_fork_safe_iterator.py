"""Data-loader workers must not collect the training process's garbage (on a GPU that garbage
can hold CUDA tensors, and freeing one in a forked worker aborts it: seen at the start of the
second epoch on an H200). The garbage here is a reference cycle whose finaliser writes the pid
of the process that collects it."""

import gc
import os

import torch
from fairseq.data import iterators

from unival.data.fork_safe_iterator import ForkSafeEpochBatchIterator


class WorkerCollects(torch.utils.data.Dataset):
    """Each item runs the collector in the worker that loads it."""

    def __len__(self):
        return 4

    def __getitem__(self, index):
        gc.collect()
        return os.getpid()

    @staticmethod
    def collater(samples):
        return samples


class Cycle:
    def __init__(self, record):
        self.record = record
        self.me = self  # only the cyclic collector frees it

    def __del__(self):
        with open(self.record, "a") as f:
            f.write(f"{os.getpid()}\n")


def _collectors(iterator_class, tmp_path):
    """Pids that finalised garbage made before the epoch's workers started."""
    record = tmp_path / "collected_by.txt"
    dataset = WorkerCollects()
    was_enabled = gc.isenabled()
    gc.disable()  # keep the garbage until the workers fork
    try:
        Cycle(str(record))  # unreachable at once
        itr = iterator_class(
            dataset, dataset.collater, [[0, 1], [2, 3]], num_workers=2, persistent_workers=False
        )
        worker_pids = {pid for batch in itr.next_epoch_itr(shuffle=False) for pid in batch}
    finally:
        if was_enabled:
            gc.enable()
    gc.collect()
    assert worker_pids and os.getpid() not in worker_pids  # the items came from workers
    return [int(line) for line in record.read_text().split()]


def test_the_parent_collects_its_garbage_before_the_workers_fork(tmp_path):
    assert _collectors(ForkSafeEpochBatchIterator, tmp_path) == [os.getpid()]
    assert gc.get_freeze_count() == 0  # unfrozen again once the workers started


def test_fairseqs_own_iterator_lets_a_worker_collect_it(tmp_path):
    """The failure the iterator exists for: a worker finalises the parent's garbage."""
    collectors = _collectors(iterators.EpochBatchIterator, tmp_path)
    assert any(pid != os.getpid() for pid in collectors)
