"""The one collate: padding, counts, optional fields, skipped samples, mixed media."""

import pytest
import torch

from unival.data.collate import collate

PAD, EOS = 1, 2


def _sample(i, src, tgt, **extra):
    tgt = torch.tensor(tgt)
    s = {
        "id": i,
        "source": torch.tensor(src),
        "target": tgt,
        "prev_output_tokens": torch.cat([torch.tensor([0]), tgt[:-1]]),
        "patch_image": torch.full((3, 2, 2), float(i)),
        "patch_mask": torch.tensor([True]),
    }
    s.update(extra)
    return s


def test_right_padding_and_counts():
    batch = collate(
        [_sample(0, [0, 5, 6, 2], [7, 2]), _sample(1, [0, 5, 2], [7, 8, 9, 2])], PAD, EOS
    )
    ni = batch["net_input"]
    assert ni["src_tokens"].tolist() == [[0, 5, 6, 2], [0, 5, 2, 1]]
    assert ni["src_lengths"].tolist() == [4, 3]
    assert batch["target"].tolist() == [[7, 2, 1, 1], [7, 8, 9, 2]]
    assert ni["prev_output_tokens"].tolist() == [[0, 7, 1, 1], [0, 7, 8, 9]]
    assert batch["ntokens"] == 6 and batch["nsentences"] == 2
    assert batch["id"].tolist() == [0, 1]
    assert ni["patch_images"].shape == (2, 3, 2, 2) and ni["patch_images"][1].eq(1).all()
    assert ni["patch_masks"].tolist() == [True, True]
    assert batch["nskipped"] == 0 and batch["skipped"] == []
    for key in ("conf", "constraint_masks", "prefix_tokens", "references"):
        assert key not in batch
    assert "patch_types" not in ni and "patch_videos" not in ni


def test_optional_fields():
    a = _sample(
        0,
        [0, 2],
        [5, 2],
        conf=0.5,
        references=["a b"],
        uniq_id="x7",
        constraint_mask=torch.tensor([[True, False, True], [False, True, False]]),
        prefix_tokens=torch.tensor([4]),
    )
    b = _sample(
        1,
        [0, 2],
        [5, 6, 2],
        conf=1.0,
        references=["c", "d"],
        uniq_id="x8",
        constraint_mask=torch.zeros(3, 3, dtype=torch.bool),
        prefix_tokens=torch.tensor([4, 4]),
    )
    batch = collate([a, b], PAD, EOS)
    assert batch["conf"].tolist() == [0.5, 1.0]
    assert batch["references"] == [["a b"], ["c", "d"]]
    assert batch["uniq_ids"] == ["x7", "x8"]
    masks = batch["constraint_masks"]
    assert masks.shape == (2, 3, 3) and masks.dtype == torch.bool
    assert masks[0, 2].tolist() == [True, True, True]  # padded target row
    assert masks[0, :2].tolist() == [[True, False, True], [False, True, False]]
    assert batch["prefix_tokens"].tolist() == [[4, 1], [4, 4]]


def test_skipped_samples_are_dropped_and_counted():
    batch = collate(
        [{"id": 3, "skipped": "t.tsv:4 column 4 (image): bad"}, _sample(1, [0, 2], [5, 2])],
        PAD,
        EOS,
    )
    assert batch["nskipped"] == 1 and batch["skipped"] == ["t.tsv:4 column 4 (image): bad"]
    assert batch["id"].tolist() == [1] and batch["nsentences"] == 1
    assert collate([{"id": 0, "skipped": "r"}], PAD, EOS) == {}


def test_mixed_media_rows_get_zeros():
    img = _sample(0, [0, 2], [5, 2])
    vid = _sample(1, [0, 2], [5, 2], patch_video=torch.ones(3, 2, 4, 4), patch_type=1)
    del vid["patch_image"]
    aud = _sample(2, [0, 2], [5, 2], patch_audio=torch.ones(5), patch_type=2)
    aud2 = _sample(3, [0, 2], [5, 2], patch_audio=torch.full((3,), 2.0), patch_type=2)
    ni = collate([img, vid, aud, aud2], PAD, EOS)["net_input"]
    assert ni["patch_types"].tolist() == [0, 1, 2, 2]
    assert ni["patch_videos"].shape == (4, 3, 2, 4, 4)
    assert ni["patch_videos"][0].eq(0).all() and ni["patch_videos"][1].eq(1).all()
    assert ni["patch_images"][1].eq(0).all()  # the video row has no image
    assert ni["patch_audios"].tolist() == [[0] * 5, [0] * 5, [1] * 5, [2, 2, 2, 0, 0]]


def test_text_only_rows_without_media():
    s = {
        "id": 0,
        "source": torch.tensor([0, 2]),
        "target": torch.tensor([4, 2]),
        "prev_output_tokens": torch.tensor([0, 4]),
    }
    ni = collate([s, _sample(1, [0, 2], [5, 2])], PAD, EOS)["net_input"]
    assert ni["patch_masks"].tolist() == [False, True]
    assert ni["patch_images"][0].eq(0).all()


def test_non_uniform_optional_field_is_an_error():
    a = _sample(0, [0, 2], [5, 2], prefix_tokens=torch.tensor([4]))
    with pytest.raises(ValueError, match="prefix_tokens"):
        collate([a, _sample(1, [0, 2], [5, 2])], PAD, EOS)


def test_image_shape_mismatch_is_an_error():
    a = _sample(0, [0, 2], [5, 2])
    b = _sample(1, [0, 2], [5, 2], patch_image=torch.zeros(3, 4, 4))
    with pytest.raises(ValueError, match="patch_image"):
        collate([a, b], PAD, EOS)
