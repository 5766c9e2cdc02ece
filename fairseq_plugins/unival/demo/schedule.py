"""Training a stage's experts side by side (the GPU profile).

A ``unival_tiny`` training step leaves a GPU mostly idle (its time goes into Python and kernel
launches), so the GPU profile trains independent experts at the same time. Experts form
*chains*: one that starts from another expert's checkpoint (VQA from the caption expert, video
QA from the video-captioning expert) runs after it, in the same chain; chains run in parallel,
at most ``workers`` at once. With one worker the experts run one after the other, in order.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Dict, List, Mapping, Optional, Sequence


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


def run_chains(chains: Sequence[Sequence[Callable[[], None]]], workers: int) -> None:
    """Call each chain's steps in order, up to ``workers`` chains at a time (1: all in order in
    this thread). If a step raises, its chain stops, the other chains finish, and the first
    failure (in chain order) is raised."""
    if workers < 1:
        raise ValueError(f"workers must be >= 1 (got {workers})")

    def run_chain(chain: Sequence[Callable[[], None]]) -> None:
        for step in chain:
            step()

    if workers == 1:
        for chain in chains:
            run_chain(chain)
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="expert") as pool:
        futures = [pool.submit(run_chain, chain) for chain in chains]
    for future in futures:  # the pool has waited for every chain
        error = future.exception()
        if error is not None:
            raise error
