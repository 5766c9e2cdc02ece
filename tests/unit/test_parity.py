"""Numerical parity with the original UnIVAL code (../shared/parity, see its README).

The fixture model (2+2 layers, d 128, OFA ResNet-50 [1,1,1], ResNeXt-50 [1,1,1]) is built
from ``config.json["args"]``, loaded from the reference's state dict (whose rp-bucket
buffers are absent) and must reproduce the stored outputs to atol 1e-4. These tests fail,
never skip, when ``../shared`` exists.
"""

import json

import pytest
import torch
from fairseq.data import Dictionary
from fairseq.sequence_generator import SequenceGenerator

from unival.models import UnivalConfig, build_model

ATOL = 1e-4
NET_INPUT_KEYS = (
    "src_tokens",
    "src_lengths",
    "prev_output_tokens",
    "patch_images",
    "patch_masks",
    "patch_types",
    "patch_videos",
    "patch_audios",
)
RP_BUCKETS = (
    "encoder.token_rp_bucket",
    "encoder.image_rp_bucket",
    "decoder.token_rp_bucket",
    "decoder.image_rp_bucket",
)
OUTPUTS = (
    "encoder_out",
    "encoder_padding_mask",
    "encoder_position_embeddings",
    "decoder_features",
    "logits",
    "attn",
    "logits_incremental",
)


def _fixture_dictionary(parity_dir) -> Dictionary:
    symbols = json.loads((parity_dir / "config.json").read_text())["fixture"]["dictionary"]
    dictionary = Dictionary()
    assert symbols["symbols"][:4] == [dictionary[i] for i in range(4)]
    for symbol in symbols["symbols"][4:]:
        dictionary.add_symbol(symbol)
    return dictionary


def _load_fixture_model(parity_dir, config_name, state_name):
    config = json.loads((parity_dir / config_name).read_text())
    fields = set(UnivalConfig.__dataclass_fields__)
    overrides = {k: v for k, v in config["args"].items() if k in fields}
    fixture = config["fixture"]
    overrides["resnet_layers"] = ",".join(map(str, fixture["image_resnet_layers"]))
    overrides["video_layers"] = ",".join(map(str, fixture["video_resnext_layers"]))
    dictionary = _fixture_dictionary(parity_dir)
    torch.manual_seed(999)  # any seed: every weight comes from the fixture
    model = build_model(config["args"]["arch"], len(dictionary), dictionary=dictionary, **overrides)
    state = torch.load(parity_dir / state_name, weights_only=True)
    assert not set(RP_BUCKETS) & set(state)  # the hook must fill them
    state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    model.load_state_dict(state, strict=True)
    return model.eval(), dictionary


def _net_input(tensors, name):
    prefix = f"{name}."
    return {
        k[len(prefix) :]: v
        for k, v in tensors.items()
        if k.startswith(prefix) and k[len(prefix) :] in NET_INPUT_KEYS
    }


@torch.no_grad()
def _run_set(model, net_input):
    """Every stored output of one input set, computed as the fixture README describes."""
    encoder_input = {k: v for k, v in net_input.items() if k != "prev_output_tokens"}
    enc = model.encoder(**encoder_input)
    features, _ = model(**net_input, features_only=True)
    logits, extra = model(**net_input)
    prev = net_input["prev_output_tokens"]
    state = {}
    steps = [
        model.decoder(prev[:, : t + 1], encoder_out=enc, incremental_state=state)[0][:, -1]
        for t in range(prev.size(1))
    ]
    return {
        "encoder_out": enc["encoder_out"][0],
        "encoder_padding_mask": enc["encoder_padding_mask"][0],
        "encoder_position_embeddings": enc["position_embeddings"][0],
        "decoder_features": features,
        "logits": logits,
        "attn": extra["attn"][0],
        "logits_incremental": torch.stack(steps, dim=1),
    }


def _assert_matches(actual, expected, what):
    assert actual.shape == expected.shape, what
    if expected.dtype == torch.bool:
        assert torch.equal(actual, expected), what
    else:
        err = (actual - expected).abs().max().item()
        assert err <= ATOL, f"{what}: max |diff| {err:.3g}"


@pytest.fixture(scope="module")
def fixture(parity_dir):
    model, dictionary = _load_fixture_model(parity_dir, "config.json", "model_state_dict.pt")
    inputs = torch.load(parity_dir / "inputs.pt", weights_only=True)
    outputs = torch.load(parity_dir / "outputs.pt", weights_only=True)
    return model, dictionary, inputs, outputs


@pytest.fixture(scope="module")
def audio_fixture(parity_dir):
    model, _ = _load_fixture_model(parity_dir, "audio_config.json", "audio_model_state_dict.pt")
    inputs = torch.load(parity_dir / "audio_inputs.pt", weights_only=True)
    outputs = torch.load(parity_dir / "audio_outputs.pt", weights_only=True)
    return model, inputs, outputs


def test_rp_buckets_match_the_reference(fixture, parity_dir):
    model = fixture[0]
    checks = torch.load(parity_dir / "rp_bucket_checks.pt", weights_only=True)
    own = model.state_dict()
    for key in RP_BUCKETS:
        assert list(own[key].shape) == checks[f"{key}.shape"].tolist()
        assert own[key].sum() == checks[f"{key}.sum"]
        assert torch.equal(own[key][:300, :300], checks[f"{key}.slice_0_300"])


@pytest.mark.parametrize("set_name", ["image", "image_textonly_mask", "video"])
def test_single_modality_sets(fixture, set_name):
    model, _, inputs, outputs = fixture
    results = _run_set(model, _net_input(inputs, set_name))
    for name in OUTPUTS:
        _assert_matches(results[name], outputs[f"{set_name}.{name}"], f"{set_name}.{name}")


def test_image_beam_search_with_fairseq_sequence_generator(fixture):
    model, dictionary, inputs, outputs = fixture
    net_input = _net_input(inputs, "image")
    del net_input["prev_output_tokens"]
    generator = SequenceGenerator(
        [model], dictionary, beam_size=3, max_len_a=0, max_len_b=8, min_len=1, normalize_scores=True
    )
    with torch.no_grad():
        # the reference generator starts from <s>, fairseq's from </s> unless told
        hyps = generator.generate([model], {"net_input": net_input}, bos_token=dictionary.bos())
    for sample, beams in enumerate(hyps):
        ref = f"image.beam3.sample{sample}"
        assert beams[0]["tokens"].tolist() == outputs[f"{ref}.hyp0.tokens"].tolist()
        _assert_matches(
            beams[0]["positional_scores"], outputs[f"{ref}.hyp0.positional_scores"], f"{ref}.hyp0"
        )
        for j, beam in enumerate(beams):  # hyps 1 and 2 differ by ~1e-3: compare loosely
            assert abs(beam["score"].item() - outputs[f"{ref}.hyp{j}.score"].item()) < 1e-3


def test_mixed_batch_image_row_matches_and_video_row_uses_its_video(fixture):
    model, _, inputs, outputs = fixture
    net_input = _net_input(inputs, "mixed_image_video")
    assert net_input["patch_types"].tolist() == [0, 1]
    mixed = _run_set(model, net_input)
    for name in ("encoder_out", "encoder_position_embeddings"):
        dim = 1 if name == "encoder_out" else 0
        _assert_matches(
            mixed[name].select(dim, 0), outputs[f"mixed_image_video.{name}"].select(dim, 0), name
        )
    for name in ("decoder_features", "logits", "attn", "logits_incremental"):
        _assert_matches(mixed[name][0], outputs[f"mixed_image_video.{name}"][0], name)
    # row 1 (video) equals that row alone through the video path ...
    video_row = {k: v[1:2] for k, v in net_input.items()}
    alone = _run_set(model, video_row)
    for name in OUTPUTS:
        dim = 1 if name == "encoder_out" else 0
        _assert_matches(mixed[name].select(dim, 1), alone[name].select(dim, 0), name)
    # ... and not the stored output, which the reference computed from patch_images
    # (a bug of the original code)
    stored = outputs["mixed_image_video.logits"][1]
    assert (mixed["logits"][1] - stored).abs().max() > 0.1


def test_audio_set(audio_fixture):
    model, inputs, outputs = audio_fixture
    net_input = _net_input(inputs, "audio")
    assert "patch_videos" not in net_input
    patches = model.encoder.embed_patches(
        net_input["patch_images"],
        net_input["patch_masks"],
        net_input["patch_types"],
        None,
        net_input["patch_audios"],
        2,
        torch.device("cpu"),
    )
    assert torch.equal(patches.position_ids, outputs["audio.audio_position_ids"])
    results = _run_set(model, net_input)
    for name in OUTPUTS:
        _assert_matches(results[name], outputs[f"audio.{name}"], f"audio.{name}")
