"""unival_tiny in train mode: gradients reach every parameter, patch sampling, freezing."""

import pytest
import torch

from unival.models import build_model

# Parameters an IMAGE batch cannot reach, and why.
UNUSED_ON_IMAGE_BATCHES = (
    "encoder.embed_videos.",  # video branch: no video rows in the batch
    "encoder.video_proj.",
    "encoder.embed_video_positions.",
    "decoder.code_layernorm_embedding.",  # image-code targets (text-to-image) only
    "decoder.embed_image_positions.",
    "decoder.image_pos_ln.",
    "decoder.image_rel_pos_table_list.",
)


def _batch(bsz=2, with_video=False, types=None):
    torch.manual_seed(0)
    batch = {
        "src_tokens": torch.tensor([[0, 5, 6, 7, 2], [0, 8, 9, 2, 1]])[:bsz],
        "src_lengths": torch.tensor([5, 4])[:bsz],
        "prev_output_tokens": torch.tensor([[0, 11, 12, 13], [0, 13, 14, 1]])[:bsz],
        "patch_images": torch.randn(bsz, 3, 64, 64),
        "patch_masks": torch.ones(bsz, dtype=torch.bool),
        "patch_types": torch.tensor(types or [0] * bsz),
    }
    if with_video:
        batch["patch_videos"] = torch.randn(bsz, 3, 4, 32, 32)
    return batch


def _params_without_grad(model):
    return {
        n
        for n, p in model.named_parameters()
        if p.requires_grad and (p.grad is None or p.grad.abs().sum() == 0)
    }


def test_every_parameter_gets_a_gradient_on_an_image_batch():
    model = build_model("unival_tiny", 64).train()
    logits, _ = model(**_batch())
    logits.pow(2).mean().backward()
    missing = _params_without_grad(model)
    unexplained = {n for n in missing if not n.startswith(UNUSED_ON_IMAGE_BATCHES)}
    assert not unexplained
    assert any(n.startswith("encoder.embed_videos.") for n in missing)  # the list is needed
    assert not any(n.startswith("encoder.embed_images.") for n in missing)


def test_mixed_image_video_batch_reaches_both_branches():
    model = build_model("unival_tiny", 64).train()
    logits, _ = model(**_batch(with_video=True, types=[0, 1]))
    logits.pow(2).mean().backward()
    missing = _params_without_grad(model)
    assert not any(
        n.startswith(
            (
                "encoder.embed_videos.",
                "encoder.video_proj.",
                "encoder.embed_images.",
                "encoder.image_proj.",
            )
        )
        for n in missing
    )


def test_patch_sampling_only_in_training():
    model = build_model("unival_tiny", 64, sample_patch_num=5)
    batch = _batch()
    enc_train = model.train().encoder(
        **{k: v for k, v in batch.items() if k != "prev_output_tokens"}
    )
    assert enc_train["encoder_out"][0].shape[0] == 5 + 5  # 5 sampled patches + 5 tokens
    enc_eval = model.eval().encoder(**{k: v for k, v in batch.items() if k != "prev_output_tokens"})
    assert enc_eval["encoder_out"][0].shape[0] == 16 + 5  # all 4x4 patches


def test_sampled_patches_keep_their_own_position_ids():
    model = build_model("unival_tiny", 64, sample_patch_num=6).train()
    model.encoder.embed_images.eval()  # same backbone output in both calls below
    image = torch.randn(2, 3, 64, 64)
    cpu = torch.device("cpu")
    torch.manual_seed(3)
    sampled = model.encoder.embed_patches(image, None, None, None, None, 2, cpu)
    model.eval()
    full = model.encoder.embed_patches(image, None, None, None, None, 2, cpu)
    grid = [r * 42 + c + 1 for r in range(4) for c in range(4)]
    assert full.position_ids[0].tolist() == grid
    for row in range(2):
        ids = sampled.position_ids[row].tolist()
        assert len(set(ids)) == 6 and set(ids) <= set(grid)
        where = torch.tensor([grid.index(i) for i in ids])
        torch.testing.assert_close(sampled.embeds[row], full.embeds[row, where])
        torch.testing.assert_close(sampled.position_embeds[row], full.position_embeds[row, where])


def test_onlylinear_freezing_leaves_exactly_the_connection_trainable():
    model = build_model(
        "unival_tiny",
        64,
        freeze_encoder=True,
        freeze_decoder=True,
        freeze_image_encoder=True,
        freeze_video_encoder=True,
        freeze_encoder_embedding=True,
        freeze_decoder_embedding=True,
    )
    trainable = {n.rsplit(".", 1)[0] for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {
        "encoder.image_proj",
        "encoder.embed_image_positions",
        "encoder.video_proj",
        "encoder.embed_video_positions",
    }


@pytest.mark.parametrize(
    "flag,prefix",
    [
        ("freeze_image_encoder", "encoder.embed_images."),
        ("freeze_video_encoder", "encoder.embed_videos."),
        ("freeze_decoder", "decoder."),
    ],
)
def test_single_freeze_flags(flag, prefix):
    model = build_model("unival_tiny", 64, **{flag: True})
    for name, param in model.named_parameters():
        frozen = name.startswith(prefix)
        if flag == "freeze_decoder" and name == "encoder.embed_tokens.weight":
            frozen = True  # the same tensor as decoder.embed_tokens (shared embeddings)
        assert param.requires_grad == (not frozen), name


def test_freeze_encoder_keeps_media_modules_and_freezes_the_rest():
    model = build_model("unival_tiny", 64, freeze_encoder=True)
    params = dict(model.named_parameters())
    assert not params["encoder.layers.0.fc1.weight"].requires_grad
    assert not params["encoder.embed_tokens.weight"].requires_grad  # shared with the decoder
    assert params["encoder.embed_images.conv1.weight"].requires_grad
    assert params["encoder.image_proj.weight"].requires_grad
    assert params["decoder.layers.0.fc1.weight"].requires_grad


def test_frozen_embedding_gets_no_update():
    model = build_model("unival_tiny", 64, freeze_encoder_embedding=True).train()
    logits, _ = model(**_batch())
    logits.pow(2).mean().backward()
    assert model.encoder.embed_tokens.weight.grad is None
    assert model.decoder.layers[0].fc1.weight.grad is not None
