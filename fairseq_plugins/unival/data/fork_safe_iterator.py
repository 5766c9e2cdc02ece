"""fairseq's epoch iterator with data-loader workers that cannot free the trainer's CUDA memory.

Each epoch fairseq builds a new ``DataLoader``, whose workers are forked from the training
process. A forked child inherits the parent's heap, including cyclic garbage that the parent's
collector has not reached yet; when the child's collector frees a CUDA (or pinned) tensor of
that garbage, the CUDA runtime, unusable after a fork, aborts the worker ("CUDA error:
initialization error", "DataLoader worker ... killed by signal: Aborted"). The first epoch
escapes because its workers fork before training has made any garbage; the second does not
(seen on an H200 at the start of epoch 2 of the demo's pretraining).

Before the workers fork this iterator collects the parent's garbage and freezes every object
it still tracks (``gc.freeze``), so a child's collector never visits the inherited objects;
the parent unfreezes them once the workers have started.
"""

from __future__ import annotations

import gc

from fairseq.data import iterators


class ForkSafeEpochBatchIterator(iterators.EpochBatchIterator):
    """``fairseq.data.iterators.EpochBatchIterator`` whose workers fork from a collected,
    frozen heap (see the module docstring)."""

    def _get_iterator_for_epoch(self, epoch, shuffle, fix_batches_to_gpus=False, offset=0):
        if self.num_workers == 0:  # no fork
            return super()._get_iterator_for_epoch(epoch, shuffle, fix_batches_to_gpus, offset)
        gc.collect()
        gc.freeze()
        try:  # fairseq's CountingIterator calls iter(DataLoader): the workers start in here
            return super()._get_iterator_for_epoch(epoch, shuffle, fix_batches_to_gpus, offset)
        finally:
            gc.unfreeze()
