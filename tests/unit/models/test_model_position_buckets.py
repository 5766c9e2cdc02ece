"""Position bucket tables and grid ids against reference values of the original code."""

import pytest
import torch

from unival.models.adapters import AudioAdapter, ImageAdapter, VideoAdapter
from unival.models.layers.position_buckets import (
    code_position_ids,
    grid_position_ids,
    image_bucket_count,
    make_image_bucket_position,
    make_token_bucket_position,
    token_bucket_count,
)

TOKEN_REFERENCE = {
    0: 255,
    1: 256,
    -1: 254,
    127: 382,
    128: 383,
    129: 384,
    200: 411,
    -200: 99,
    500: 467,
    1023: 510,
    -1023: 0,
}


@pytest.fixture(scope="module")
def token_table():
    return make_token_bucket_position(256, 1024)


@pytest.mark.parametrize("distance,bucket", sorted(TOKEN_REFERENCE.items()))
def test_token_bucket_reference_values(token_table, distance, bucket):
    query, key = (distance, 0) if distance >= 0 else (0, -distance)
    assert token_table[query, key].item() == bucket
    if abs(distance) < 1000:  # the bucket depends on the distance only
        assert token_table[query + 7, key + 7].item() == bucket


def test_token_table_shape_and_range(token_table):
    assert token_table.shape == (1024, 1024) and token_table.dtype == torch.long
    assert token_table.min() == 0 and token_table.max() == token_bucket_count(256) - 1
    # within +-128 the bucket is the distance itself
    assert token_table[300, 172].item() == 128 + 255
    assert token_table[172, 300].item() == -128 + 255


def test_image_bucket_reference_values():
    table = make_image_bucket_position(42)
    assert table.shape == (1765, 1765)
    cell = {(0, 0): 1, (0, 1): 2, (1, 0): 43}  # id = row * 42 + col + 1
    assert table[cell[0, 0], cell[0, 0]] == 3444
    assert table[cell[0, 0], cell[0, 1]] == 3443
    assert table[cell[0, 0], cell[1, 0]] == 3361
    count = image_bucket_count(42)
    assert count == 83 * 83 + 3 == 6892
    assert table[0, 5] == count - 3 and table[5, 0] == count - 2 and table[0, 0] == count - 1
    # (r, c) = (41, 41) vs (0, 0): (41 + 41) * 83 + (41 + 41)
    assert table[42 * 42, 1] == 82 * 83 + 82


def test_grid_ids_image_video_audio():
    assert grid_position_ids(2, 3, 42).tolist() == [1, 2, 3, 43, 44, 45]
    assert ImageAdapter().grid_ids((2, 3), 42).tolist() == [1, 2, 3, 43, 44, 45]
    assert VideoAdapter().grid_ids((2, 2, 2), 42).tolist() == [1, 2, 43, 44] * 2
    # 60 audio tokens -> 8x8 square grid, first 60 ids (the parity fixture's example)
    audio = AudioAdapter().grid_ids((15, 4), 42)
    expected = [r * 42 + c + 1 for r in range(8) for c in range(8)][:60]
    assert audio.tolist() == expected
    assert audio[:8].tolist() == list(range(1, 9)) and audio[-4:].tolist() == [295, 296, 297, 298]


def test_audio_grid_too_large_is_an_error():
    with pytest.raises(ValueError, match="grid"):
        AudioAdapter().grid_ids((43, 43), 42)


def test_decoder_code_position_ids():
    ids = code_position_ids(128, 42)
    assert ids.shape == (1026,)
    assert ids[:3].tolist() == [0, 1, 2] and ids[16:19].tolist() == [16, 43, 44]
    assert ids[256].item() == 15 * 42 + 16 and (ids[257:] == 1024).all()
