"""``--sinusoidal-bin-init`` / ``--sinusoidal-patch-position-init``: neighbouring ``<bin_k>``
rows / patch cells start alike.

With a flag off its rows are independent normal draws (neighbours unrelated); with it on,
bin k and bin k+1 (or two adjacent cells) are nearly parallel while far ones are not, the
rows keep the table's scale, the tied encoder / decoder / output tables stay one tensor, and
each flag leaves the other table as drawn.
"""

import pytest
import torch
import torch.nn.functional as F
from fairseq.data import Dictionary

from unival.models import build_model
from unival.models.location_init import bin_token_range, sinusoids
from unival.tokenizer import bin_symbol, extend_dictionary

NUM_BINS = 1000


def unival_dictionary() -> Dictionary:
    dictionary = Dictionary()
    for word in ("a", "red", "circle"):
        dictionary.add_symbol(word)
    return extend_dictionary(dictionary, num_codes=8, num_bins=NUM_BINS)


def tiny(dictionary: Dictionary, **overrides):
    torch.manual_seed(0)
    return build_model("unival_tiny", len(dictionary), dictionary=dictionary, **overrides)


def neighbour_similarity(rows: torch.Tensor, step: int) -> float:
    """Mean cosine similarity of row i and row i+step."""
    return F.cosine_similarity(rows[:-step], rows[step:], dim=1).mean().item()


def test_bin_token_range_finds_the_bins_and_nothing_in_a_text_dictionary():
    dictionary = unival_dictionary()
    first, count = bin_token_range(dictionary)
    assert (dictionary[first], count) == (bin_symbol(0), NUM_BINS)
    plain = Dictionary()
    plain.add_symbol("a")
    assert bin_token_range(plain) is None


def test_sinusoids_are_sin_then_cos_of_geometric_wavelengths():
    table = sinusoids(torch.tensor([0.0, 2.0]), 4, (4.0, 16.0))
    # wavelengths 4 and 16: position 2 is half of the first period, an eighth of the second
    expected = torch.tensor([[0.0, 0.0, 1.0, 1.0], [0.0, 2**-0.5, -1.0, 2**-0.5]])
    assert torch.allclose(table, expected.double(), atol=1e-12)


def cell_similarities(model) -> tuple:
    """Mean cosine similarity of right / lower neighbour cells and of far corners."""
    grid = model.encoder.grid_size
    cells = model.encoder.embed_image_positions.weight[1:].detach().view(grid, grid, -1)
    right = F.cosine_similarity(cells[:, :-1], cells[:, 1:], dim=-1).mean().item()
    down = F.cosine_similarity(cells[:-1], cells[1:], dim=-1).mean().item()
    far = F.cosine_similarity(cells[:4, :4], cells[-4:, -4:], dim=-1).mean().item()
    return right, down, far


def test_bins_start_alike_with_the_bin_flag_and_unrelated_without():
    dictionary = unival_dictionary()
    first, count = bin_token_range(dictionary)
    plain, smooth = tiny(dictionary), tiny(dictionary, sinusoidal_bin_init=True)

    plain_bins = plain.encoder.embed_tokens.weight[first : first + count].detach()
    bins = smooth.encoder.embed_tokens.weight[first : first + count].detach()
    assert abs(neighbour_similarity(plain_bins, 1)) < 0.05
    assert neighbour_similarity(bins, 1) > 0.9
    assert neighbour_similarity(bins, 100) < 0.5 * neighbour_similarity(bins, 1)
    # same scale as the randomly drawn rows, other rows untouched
    assert bins.norm(dim=1).mean().item() == pytest.approx(
        plain_bins.norm(dim=1).mean().item(), rel=0.05
    )
    others = slice(0, first)
    assert torch.equal(
        smooth.encoder.embed_tokens.weight[others], plain.encoder.embed_tokens.weight[others]
    )
    # tied tables are still one tensor
    assert smooth.decoder.output_projection.weight is smooth.encoder.embed_tokens.weight
    # the patch positions are left as drawn
    assert torch.equal(
        smooth.encoder.embed_image_positions.weight, plain.encoder.embed_image_positions.weight
    )


def test_cells_start_alike_with_the_patch_position_flag_and_unrelated_without():
    dictionary = unival_dictionary()
    plain = tiny(dictionary)
    smooth = tiny(dictionary, sinusoidal_patch_position_init=True)
    right, down, far = cell_similarities(smooth)
    assert right > 0.7 and down > 0.7 and far < 0.3
    plain_right, plain_down, _ = cell_similarities(plain)
    assert abs(plain_right) < 0.05 and abs(plain_down) < 0.05
    # the token table (bins included) is left as drawn
    assert torch.equal(smooth.encoder.embed_tokens.weight, plain.encoder.embed_tokens.weight)


def test_a_loaded_checkpoint_replaces_the_sinusoidal_rows():
    dictionary = unival_dictionary()
    trained = tiny(dictionary)
    smooth = tiny(dictionary, sinusoidal_bin_init=True, sinusoidal_patch_position_init=True)
    smooth.load_state_dict(trained.state_dict())
    assert torch.equal(smooth.encoder.embed_tokens.weight, trained.encoder.embed_tokens.weight)
