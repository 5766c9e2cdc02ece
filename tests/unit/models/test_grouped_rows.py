"""Row maps of the per-sentence caches (unival.models.layers.grouped_rows)."""

import torch

from unival.models.layers.grouped_rows import group_size, reorder_rows, unique_rows


def test_unique_rows_picks_one_row_per_source_and_maps_every_row():
    first, rows = unique_rows(torch.tensor([3, 3, 0, 0, 3, 7]))
    assert first.tolist() == [2, 0, 5]  # first row holding source 0, 3, 7
    assert rows.tolist() == [1, 1, 0, 0, 1, 2]


def test_reorder_without_dropped_rows_keeps_the_cache():
    rows, keep = reorder_rows(torch.tensor([0, 0, 1, 1]), torch.tensor([1, 1, 3, 2]), 2)
    assert rows.tolist() == [0, 0, 1, 1] and keep is None


def test_reorder_that_drops_a_sentence_compacts_the_cache():
    rows, keep = reorder_rows(torch.tensor([0, 0, 1, 1, 2, 2]), torch.tensor([0, 1, 5, 4]), 3)
    assert keep.tolist() == [0, 2]
    assert rows.tolist() == [0, 0, 1, 1]


def test_group_size_only_for_beams_side_by_side():
    assert group_size(torch.tensor([0, 0, 0, 1, 1, 1]), 2) == 3
    assert group_size(torch.tensor([0, 1, 2]), 3) == 1
    assert group_size(torch.tensor([0, 1, 0, 1]), 2) is None
    assert group_size(torch.tensor([0, 0, 1]), 2) is None
