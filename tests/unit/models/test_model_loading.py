"""Checkpoint upgrade on load: missing entries, growth, strictness."""

import pytest
import torch

from unival.models import build_model
from unival.models.builder import placeholder_dictionary
from unival.models.missing_weights import MissingWeightsError
from unival.models.unival import drop_logmel_keys

TOKEN_KEYS = (
    "encoder.embed_tokens.weight",
    "decoder.embed_tokens.weight",
    "decoder.output_projection.weight",
)


@pytest.fixture(scope="module")
def source():
    torch.manual_seed(0)
    return build_model("unival_tiny", 40)


def _state(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_round_trip_without_the_deterministic_buffers(source):
    state = _state(source)
    for key in (
        "encoder.token_rp_bucket",
        "encoder.image_rp_bucket",
        "decoder.token_rp_bucket",
        "decoder.image_rp_bucket",
        "decoder.image_position_idx",
    ):
        del state[key]
    target = build_model("unival_tiny", 40)
    target.load_state_dict(state, strict=True)
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value), key
    assert target.decoder.output_projection.weight is target.encoder.embed_tokens.weight


def test_missing_weights_are_refused_with_their_names(source):
    """What fairseq-generate, fairseq-train --restore-file and unival eval call."""
    state = {k: v for k, v in _state(source).items() if not k.startswith("decoder.layers.0.")}
    target = build_model("unival_tiny", 40)
    with pytest.raises(MissingWeightsError) as caught:
        target.load_state_dict(state, strict=True)
    expected = sorted(k for k in source.state_dict() if k.startswith("decoder.layers.0."))
    assert caught.value.keys == expected and "decoder.layers.0.fc1.{bias,weight}" in str(
        caught.value
    )


def test_entries_the_checkpoint_lacks_keep_the_models_values_when_asked_for(
    source, monkeypatch, caplog
):
    state = {
        k: v
        for k, v in _state(source).items()
        if not k.startswith(("encoder.embed_videos.", "encoder.video_proj."))
    }
    target = build_model("unival_tiny", 40)
    before = target.encoder.video_proj.weight.clone()
    monkeypatch.setenv("UNIVAL_ALLOW_MISSING_WEIGHTS", "1")
    target.load_state_dict(state, strict=True)
    assert torch.equal(target.encoder.video_proj.weight, before)
    assert torch.equal(target.encoder.layers[0].fc1.weight, source.encoder.layers[0].fc1.weight)
    warned = [r.getMessage() for r in caplog.records if "fresh initial values" in r.getMessage()]
    assert len(warned) == 1 and "encoder.video_proj.{bias,weight}" in warned[0]


def test_token_embedding_grows_with_the_dictionary(source):
    state = _state(source)
    target = build_model("unival_tiny", 46)
    target.load_state_dict(state, strict=True)
    grown = target.encoder.embed_tokens.weight
    assert grown.shape == (46, 128)
    assert torch.equal(grown[:40], source.encoder.embed_tokens.weight)
    assert 0.03 < grown[40:].std().item() < 0.15  # new rows ~ N(0, 128^-1/2 = 0.088)
    assert target.decoder.output_projection.weight is grown


def test_extra_mask_row_is_dropped_when_the_dictionary_has_no_mask():
    bigger = build_model("unival_tiny", 41)
    target = build_model("unival_tiny", 40)
    target.load_state_dict(_state(bigger), strict=True)
    assert torch.equal(target.encoder.embed_tokens.weight, bigger.encoder.embed_tokens.weight[:40])


def test_short_image_position_tables_grow(source):
    state = _state(source)
    for key in ("encoder.embed_image_positions.weight", "decoder.embed_image_positions.weight"):
        state[key] = state[key][:1000]
    target = build_model("unival_tiny", 40)
    target.load_state_dict(state, strict=True)
    table = target.encoder.embed_image_positions.weight
    assert table.shape == (1765, 128)
    assert torch.equal(table[:1000], source.encoder.embed_image_positions.weight[:1000])


def test_unknown_entries_need_non_strict_loading(source):
    state = _state(source)
    state["encoder.embed_audios.bn0.weight"] = torch.ones(64)
    with pytest.raises(RuntimeError, match="Unexpected key"):
        build_model("unival_tiny", 40).load_state_dict(dict(state), strict=True)
    lenient = build_model("unival_tiny", 40, strict=False)  # the reference's --strict flag
    lenient.load_state_dict(dict(state), strict=True)
    assert torch.equal(lenient.encoder.layers[1].fc2.weight, source.encoder.layers[1].fc2.weight)


def test_drop_logmel_keys():
    state = {
        "encoder.embed_audios.logmel_extractor.melW": torch.zeros(1),
        "encoder.embed_audios.bn0.weight": torch.zeros(1),
    }
    assert drop_logmel_keys(state) == ["encoder.embed_audios.logmel_extractor.melW"]
    assert list(state) == ["encoder.embed_audios.bn0.weight"]


def test_placeholder_dictionary_has_the_specials_first():
    dictionary = placeholder_dictionary(6)
    assert [dictionary[i] for i in range(6)] == [
        "<s>",
        "<pad>",
        "</s>",
        "<unk>",
        "<tok_4>",
        "<tok_5>",
    ]
