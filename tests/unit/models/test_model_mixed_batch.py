"""Mixed-modality batches: every row is encoded from its own media."""

import pytest
import torch

from unival.models import build_model


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_model("unival_tiny", 50, audio_encoder_name="pann_cnn6", hop_size=200).eval()


@pytest.fixture(scope="module")
def media():
    torch.manual_seed(1)
    return {
        "patch_images": torch.randn(3, 3, 64, 64),  # 4x4 = 16 tokens
        "patch_videos": torch.randn(3, 3, 4, 32, 32),  # 1x2x2 = 4 tokens
        "patch_audios": 0.1 * torch.randn(3, 8000),  # 41 frames -> 2x4 = 8 tokens
    }


SRC = torch.tensor([[0, 5, 6, 7, 2], [0, 8, 9, 2, 1], [0, 10, 2, 1, 1]])
PREV = torch.tensor([[0, 11, 12], [0, 13, 14], [0, 15, 1]])
PATCHES = {0: 16, 1: 4, 2: 8}


def _run(model, rows, types, media, masks=None):
    batch = {k: v[rows] for k, v in media.items()}
    with torch.no_grad():
        enc = model.encoder(SRC[rows], patch_types=torch.tensor(types), patch_masks=masks, **batch)
        logits, _ = model.decoder(PREV[rows], encoder_out=enc)
    return enc, logits


def test_each_row_equals_its_modality_alone(model, media):
    types = [2, 0, 1]
    enc, logits = _run(model, [0, 1, 2], types, media)
    longest = max(PATCHES.values())
    mask = enc["encoder_padding_mask"][0]
    assert mask.shape == (3, longest + 5)
    for row, kind in enumerate(types):
        n = PATCHES[kind]
        assert not mask[row, :n].any() and mask[row, n:longest].all()
        alone, alone_logits = _run(model, [row], [kind], media)
        out = enc["encoder_out"][0][:, row]
        ref = alone["encoder_out"][0][:, 0]
        torch.testing.assert_close(out[:n], ref[:n], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(out[longest:], ref[n:], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(logits[row], alone_logits[0], atol=1e-5, rtol=1e-5)


def test_video_row_is_not_read_from_its_image(model, media):
    """The reference encodes a video row of a mixed batch from patch_images (a bug of the
    original code)."""
    _, mixed = _run(model, [0, 1], [0, 1], media)
    _, as_image = _run(model, [1], [0], media)
    assert (mixed[1] - as_image[0]).abs().max() > 1e-3


def test_patch_masks_turn_a_rows_patches_into_padding(model, media):
    enc, _ = _run(model, [0, 1], [0, 0], media, masks=torch.tensor([True, False]))
    mask = enc["encoder_padding_mask"][0]
    assert not mask[0, :16].any() and mask[1, :16].all()
    assert mask[1, 16:].tolist() == SRC[1].eq(1).tolist()
    # padded positions are zeroed before the first layer: row 1's output there is LN(bias)
    alone_text, _ = _run(model, [1], [0], media, masks=torch.tensor([False]))
    torch.testing.assert_close(
        enc["encoder_out"][0][16:, 1], alone_text["encoder_out"][0][16:, 0], atol=1e-5, rtol=1e-5
    )


def test_missing_media_or_encoder_is_an_error(model, media):
    with pytest.raises(ValueError, match="VIDEO rows but no VIDEO input"):
        model.encoder(
            SRC[:1], patch_images=media["patch_images"][:1], patch_types=torch.tensor([1])
        )
    image_only = build_model("unival_tiny", 50, video_encoder_name="none")
    with pytest.raises(ValueError, match="no VIDEO encoder"):
        image_only.encoder(
            SRC[:1], patch_videos=media["patch_videos"][:1], patch_types=torch.tensor([1])
        )
    with pytest.raises(ValueError, match="unknown patch_types"):
        model.encoder(
            SRC[:1], patch_images=media["patch_images"][:1], patch_types=torch.tensor([5])
        )


def test_text_only_batch(model):
    with torch.no_grad():
        enc = model.encoder(SRC)
        logits, _ = model(SRC, None, PREV)
    assert enc["encoder_out"][0].shape == (5, 3, 128)
    assert logits.shape == (3, 3, 50)


def test_audio_front_end_is_frozen_and_untouched_by_the_init(model):
    from unival.models.backbones import build_audio_backbone

    fresh = build_audio_backbone("pann_cnn6", hop_size=200).state_dict()
    front = {
        n: p
        for n, p in model.encoder.embed_audios.named_parameters()
        if n.startswith(("spectrogram_extractor.", "logmel_extractor."))
    }
    assert len(front) == 3
    for name, param in front.items():
        assert not param.requires_grad, name
        assert torch.equal(param, fresh[name]), name
