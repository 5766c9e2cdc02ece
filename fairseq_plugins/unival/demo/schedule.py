"""Training experts side by side.

A ``unival_tiny`` training step leaves a GPU mostly idle (its time goes into Python and kernel
launches), and two one-thread trainings on a 2-core CPU make more updates per second than one
two-thread training, so independent experts train at the same time. Experts form *chains*: one
that starts from another expert's checkpoint (VQA from the caption expert, video QA from the
video-captioning expert) runs after it, in the same chain. An :class:`ExpertPool` runs chains,
at most ``workers`` at once, in the order they were submitted; the demo shares one pool between
its stages, so the media experts start on the first worker the image experts leave free. With
one worker the chains run one after the other, in order.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Dict, List, Mapping, Optional, Sequence

Chain = Sequence[Callable[[], None]]


def expert_chains(order: Sequence[str], starts: Mapping[str, Optional[str]]) -> List[List[str]]:
    """Group the experts of ``order`` into chains: an expert whose start (``starts[name]``) is an
    earlier expert of ``order`` joins that expert's chain; any other starts a new chain.

    ``expert_chains(["caption", "vqa", "refcoco"], {"vqa": "caption"})`` ->
    ``[["caption", "vqa"], ["refcoco"]]``."""
    chains: List[List[str]] = []
    chain_of: Dict[str, List[str]] = {}
    for name in order:
        start = starts.get(name)
        if start is not None and start not in chain_of:
            raise ValueError(f"{name} starts from {start}, which is not an earlier expert")
        chain = chain_of[start] if start is not None else []
        if start is None:
            chains.append(chain)
        chain.append(name)
        chain_of[name] = chain
    return chains


class ExpertPool:
    """Runs chains of steps on ``workers`` threads, first submitted first started; with one
    worker, each chain runs in the submitting thread. ``unfinished`` counts the chains
    submitted and not yet finished (queued or running)."""

    def __init__(self, workers: int):
        if workers < 1:
            raise ValueError(f"workers must be >= 1 (got {workers})")
        self.workers = workers
        self.unfinished = 0
        self._lock = threading.Lock()
        self._executor = (
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="expert")
            if workers > 1
            else None
        )

    def side_by_side(self) -> bool:
        """Whether another chain is (or will be, before this one ends) training at the same
        time: more than one unfinished chain and more than one worker."""
        with self._lock:
            return min(self.unfinished, self.workers) > 1

    def _run_chain(self, chain: Chain) -> None:
        try:
            for step in chain:
                step()
        finally:
            with self._lock:
                self.unfinished -= 1

    def submit(self, chains: Sequence[Chain]) -> List[Future]:
        """Queue ``chains``; one future per chain (already done with one worker). If a step
        raises, its chain stops and the future holds the error; other chains go on."""
        with self._lock:
            self.unfinished += len(chains)
        futures = []
        for chain in chains:
            if self._executor is not None:
                futures.append(self._executor.submit(self._run_chain, chain))
                continue
            future: Future = Future()
            try:
                self._run_chain(chain)
                future.set_result(None)
            except Exception as error:  # handed to wait(), like the executor's futures
                future.set_exception(error)
            futures.append(future)
        return futures

    @staticmethod
    def wait(futures: Sequence[Future]) -> None:
        """Wait for every future, then raise the first failure (in submission order)."""
        errors = [future.exception() for future in futures]  # exception() waits
        for error in errors:
            if error is not None:
                raise error

    def shutdown(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)


def run_chains(chains: Sequence[Chain], workers: int) -> None:
    """Call each chain's steps in order, up to ``workers`` chains at a time (1: all in order in
    this thread). If a step raises, its chain stops, the other chains finish, and the first
    failure (in chain order) is raised."""
    pool = ExpertPool(workers)
    try:
        pool.wait(pool.submit(chains))
    finally:
        pool.shutdown()
