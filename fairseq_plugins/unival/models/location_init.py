"""Sinusoidal starting values for the weights that say *where*: the ``<bin_k>`` tokens
(``--sinusoidal-bin-init``) and the image patch-position table
(``--sinusoidal-patch-position-init``); read only by a training from scratch.

A randomly drawn table gives bin 40 and bin 41, or two neighbouring patch cells, unrelated
vectors: the model must learn every bin and cell on its own, which on the toy world's 64 px
scenes kept a RefCOCO expert fine-tuned from a 1,300-update base at the score of a constant
box. Drawn as sinusoids of the bin index (or of the cell's row and column), neighbours
start alike, so what the model learns for one bin carries to the bins next to it, and the
output layer's scores over the bins start as smooth functions of the coordinate. The tables
stay trainable; a checkpoint loaded afterwards replaces them.
"""

from __future__ import annotations

import math
from typing import Optional, Tuple

import torch
from fairseq.data import Dictionary
from torch import Tensor, nn

from unival.tokenizer import bin_symbol

# wavelengths in bins: 8 bins is 4 px of a 512 px max_image_size, 512 half the 1,000 bins
BIN_WAVELENGTHS = (8.0, 512.0)
# wavelengths in grid cells: from two cells to beyond the 42-cell grid
GRID_WAVELENGTHS = (2.0, 64.0)


def sinusoids(positions: Tensor, dim: int, wavelengths: Tuple[float, float]) -> Tensor:
    """positions (N,) -> (N, dim): ``[sin | cos]`` of ``2*pi*position / w`` for ``dim / 2``
    wavelengths ``w`` spaced geometrically over ``wavelengths`` (shortest, longest)."""
    if dim % 2:
        raise ValueError(f"sinusoids need an even width (got {dim})")
    low, high = (math.log(w) for w in wavelengths)
    lengths = torch.exp(torch.linspace(low, high, dim // 2, dtype=torch.float64))
    angles = 2 * math.pi * positions.to(torch.float64)[:, None] / lengths[None]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


def bin_token_range(dictionary: Dictionary) -> Optional[Tuple[int, int]]:
    """``(first id, count)`` of the consecutive ``<bin_0>``, ``<bin_1>``, ... symbols, or None."""
    first = dictionary.index(bin_symbol(0))
    if first == dictionary.unk():
        return None
    count = 0
    while first + count < len(dictionary) and dictionary[first + count] == bin_symbol(count):
        count += 1
    return first, count


@torch.no_grad()
def _fill(weight: Tensor, rows: slice, values: Tensor) -> None:
    """Write ``values`` into ``weight[rows]``, rescaled to the table's mean row norm (so the
    new rows are as large as the randomly drawn ones around them)."""
    scale = weight.norm(dim=1).mean()
    values = values / values.norm(dim=1, keepdim=True) * scale
    weight[rows] = values.to(weight.dtype)


def init_bin_rows(weight: Tensor, first: int, count: int) -> None:
    """Rows ``first .. first+count-1`` of ``weight`` (V, D) <- sinusoids of the bin index."""
    values = sinusoids(torch.arange(count), weight.shape[1], BIN_WAVELENGTHS)
    _fill(weight, slice(first, first + count), values)


def init_grid_positions(table: nn.Embedding, grid: int) -> None:
    """Rows 1 .. grid*grid of ``table`` (grid*grid+1, D), cell (r, c) at row ``r*grid + c + 1``
    (row 0 is never a cell) <- ``[sinusoids(r) | sinusoids(c)]``, D/2 values per axis."""
    dim = table.embedding_dim
    if dim % 4:
        raise ValueError(f"a 2-D sinusoidal table needs a width divisible by 4 (got {dim})")
    cells = torch.arange(grid * grid)
    rows, cols = cells // grid, cells % grid
    values = torch.cat(
        [sinusoids(rows, dim // 2, GRID_WAVELENGTHS), sinusoids(cols, dim // 2, GRID_WAVELENGTHS)],
        dim=1,
    )
    _fill(table.weight, slice(1, grid * grid + 1), values)


def init_all_bin_rows(model: nn.Module) -> None:
    """Give a freshly built UnIVAL model sinusoidal ``<bin_k>`` rows in its token embeddings
    and output layer (each table once when they are tied)."""
    tables = [
        (model.encoder.embed_tokens.weight, model.encoder.dictionary),
        (model.decoder.embed_tokens.weight, model.decoder.dictionary),
    ]
    projection = getattr(model.decoder, "output_projection", None)
    if projection is not None:
        tables.append((projection.weight, model.decoder.dictionary))
    done = set()
    for weight, dictionary in tables:
        bins = bin_token_range(dictionary)
        if bins is not None and id(weight) not in done:
            init_bin_rows(weight, *bins)
            done.add(id(weight))
