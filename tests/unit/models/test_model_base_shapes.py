"""``unival_base`` has the official state-dict names and shapes (the parity fixture's JSON)."""

import json

import pytest

from unival.models import build_model

AUDIO_MODULES = ("encoder.embed_audios.", "encoder.audio_proj.", "encoder.embed_audio_positions.")


@pytest.fixture(scope="module")
def base_with_audio():
    return build_model("unival_base", 59457, audio_encoder_name="pann_cnn14", hop_size=200)


def test_state_dict_names_and_shapes_match_the_reference(base_with_audio, parity_dir):
    reference = json.loads((parity_dir / "unival_base_param_shapes.json").read_text())["shapes"]
    own = {k: list(v.shape) for k, v in base_with_audio.state_dict().items()}
    assert len(reference) == 1739
    assert sorted(set(reference) - set(own)) == []
    assert sorted(set(own) - set(reference)) == []
    assert {k: v for k, v in own.items() if reference[k] != v} == {}


def test_parameter_counts_match_the_spec(base_with_audio):
    params = list(base_with_audio.named_parameters())  # tied embedding listed once
    assert sum(p.numel() for _, p in params) == 329_979_120
    without_audio = sum(p.numel() for n, p in params if not n.startswith(AUDIO_MODULES))
    assert without_audio == 250_489_072
    embedding = base_with_audio.encoder.embed_tokens.weight
    assert embedding.numel() == 45_662_976
    assert base_with_audio.decoder.output_projection.weight is embedding
