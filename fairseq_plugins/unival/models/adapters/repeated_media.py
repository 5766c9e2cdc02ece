"""Run a media backbone on fewer copies of each picture of a batch, with the same result.

A batch often holds one picture several times: pretraining pairs each image-text row with a
negative example of the same image, VQA asks several questions about one image. Running the
backbone on the distinct rows and indexing the features back gives the same features, and
autograd sums the copies' gradients, as it does on the full batch. In training two things
differ and are handled here: batch-norm statistics and per-sample randomness (stochastic
depth, dropout: then every copy runs). The statistics weigh each picture by how often it
occurs, so a training batch keeps ``count / g`` copies of each picture, g being the greatest
common divisor of the counts: dividing every weight by g leaves the mean and the biased
variance as they were, and the running variance's ``n / (n - 1)`` correction is fixed up
after the pass.
"""

import contextlib
import math
from typing import Iterator, Optional, Tuple

import torch
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm


def _is_stochastic(backbone: nn.Module) -> bool:
    """Whether a training-mode forward draws random numbers per sample (stochastic depth,
    dropout): copies of one picture would then be computed differently."""
    if not backbone.training:
        return False
    return any(
        getattr(module, "drop_prob", 0.0) > 0.0
        or (isinstance(module, nn.modules.dropout._DropoutNd) and module.p > 0)
        for module in backbone.modules()
    )


def equal_rows(rows: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    """``(first (U,), inverse (B,), counts (U,))`` grouping the equal rows of ``rows`` (B, N):
    ``rows[first][inverse]`` equals ``rows``, ``counts`` is each group's size.

    ``torch.unique(rows, dim=0)`` sorts whole rows, which takes about half a second for 64
    images of 480 px on a GPU; here a weighted sum per row is grouped by a 1-D unique and the
    grouping is then checked element by element (the exact row sort only if two different
    rows ever shared a sum). A row-wise reduction, not a matrix-vector product: the latter
    may block rows differently and give equal rows different sums.
    """
    weights = torch.linspace(1.0, 2.0, rows.size(1), device=rows.device)
    keys = (rows.float() * weights).sum(1)
    _, inverse, counts = torch.unique(keys, return_inverse=True, return_counts=True)
    order = torch.arange(rows.size(0), device=rows.device)
    first = torch.full_like(counts, rows.size(0)).scatter_reduce_(0, inverse, order, "amin")
    if not torch.equal(rows[first][inverse], rows):
        _, inverse, counts = torch.unique(rows, dim=0, return_inverse=True, return_counts=True)
        first = torch.full_like(counts, rows.size(0)).scatter_reduce_(0, inverse, order, "amin")
    return first, inverse, counts


def distinct_media(media: Tensor, backbone: nn.Module) -> Optional[Tuple[Tensor, Tensor]]:
    """``(rows (R, ...), inverse (B,))`` with ``rows[inverse] == media`` when computing the R
    rows instead of all B gives the same features, else None.

    In eval mode ``rows`` are the distinct pictures. In training the backbone's batch-norm
    statistics are over the batch and weigh each picture by its count; ``rows`` then holds
    ``count / g`` copies of each picture, g the counts' greatest common divisor (R = B / g:
    the distinct pictures when all counts are equal), which keeps the mean and the biased
    variance (see :func:`batch_norm_statistics_as_if_repeated` for the running variance).
    None when g is 1 or a layer draws per-sample randomness.
    """
    if media.size(0) < 2 or media.requires_grad:
        return None
    first, inverse, counts = equal_rows(media.flatten(1))
    if first.size(0) == media.size(0):
        return None
    if not backbone.training:
        return media[first], inverse
    common = math.gcd(*counts.tolist())
    if common == 1 or _is_stochastic(backbone):
        return None
    copies = counts // common
    starts = copies.cumsum(0) - copies
    # every copy of a picture gives the same features: each row reads its picture's first one
    return media[first.repeat_interleave(copies)], starts[inverse]


@contextlib.contextmanager
def batch_norm_statistics_as_if_repeated(backbone: nn.Module, repeats: int) -> Iterator[None]:
    """Within the block, a training-mode forward of U distinct rows updates every batch norm's
    running variance as a forward of the ``repeats * U`` rows would.

    Batch norm folds the unbiased variance ``s2 * n / (n - 1)`` of its n = rows x positions
    inputs into the running variance; with U rows instead of ``repeats * U`` that factor is
    larger. After the pass each running variance is moved to the value the full batch gives.
    """
    norms = [
        m
        for m in backbone.modules()
        if isinstance(m, _BatchNorm) and m.training and m.track_running_stats
    ]
    if repeats == 1 or not norms:
        yield
        return
    before = {m: m.running_var.clone() for m in norms}
    counts = {}
    hooks = [
        m.register_forward_pre_hook(
            lambda mod, args: counts.__setitem__(mod, args[0].numel() // args[0].size(1))
        )
        for m in norms
    ]
    try:
        yield
    finally:
        for hook in hooks:
            hook.remove()
    with torch.no_grad():
        for m, n in counts.items():
            full = n * repeats
            momentum = m.momentum if m.momentum is not None else 1.0 / float(m.num_batches_tracked)
            # new = (1 - mom) * old + mom * s2 * n / (n - 1); swap the factor for full / (full - 1)
            factor = (full / (full - 1)) / (n / (n - 1)) if n > 1 else 1.0
            old = before[m] * (1.0 - momentum)
            # .data: the batch-norm node saved running_var (its training backward never reads
            # it), so an in-place update through autograd would fail the version check
            m.running_var.data.copy_(old + (m.running_var - old) * factor)
