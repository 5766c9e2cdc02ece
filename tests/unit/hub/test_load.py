"""Loading checkpoints: released layout and names, EMA, strictness, safe unpickling."""

import argparse
import json
import os
import pickle

import pytest
import torch

from unival.hub import CheckpointMismatchError, load
from unival.hub.checkpoint import build_unival_model, load_weights, model_config, read_checkpoint
from unival.hub.names import resolve_arch, resolve_task
from unival.models.builder import placeholder_dictionary
from unival.models.layers.linear import _ONEDNN_LINEAR as ONEDNN_LINEAR
from unival.models.layers.linear import Linear
from unival.models.unival import DETERMINISTIC_BUFFERS
from unival.safe_load import UntrustedCheckpointError


def _file_weights(path, key="model"):
    state = torch.load(path, map_location="cpu", weights_only=False)  # our own test file
    return state[key] if key == "model" else state["extra_state"]["ema"]


def test_released_layout_loads_strictly_with_the_files_weights(released_caption, caption_predictor):
    expected = _file_weights(released_caption)
    loaded = caption_predictor.model.state_dict()
    assert set(loaded) == set(expected)
    assert all(torch.equal(loaded[k], expected[k]) for k in expected)
    cfg = caption_predictor.model.cfg
    assert cfg._name == "unival_base"  # the authors' rename resolves to our architecture
    assert (cfg.encoder_embed_dim, cfg.encoder_layers, cfg.image_encoder_name) == (128, 2, "resnet")
    assert caption_predictor.task_name == "caption"
    assert caption_predictor.assets.dict_path == str(released_caption.parent / "dict.txt")


@pytest.mark.skipif(not ONEDNN_LINEAR, reason="this torch build has no oneDNN linear")
def test_a_cpu_predictor_decodes_with_packed_decoder_weights(caption_predictor):
    """The loaded model's decoder layers keep their weights in oneDNN's blocked layout (the
    state dict still holds the file's values, checked above); it can no longer be trained."""
    model = caption_predictor.model
    linears = {n: m for n, m in model.decoder.layers.named_modules() if isinstance(m, Linear)}
    memory = ("encoder_attn.k_proj", "encoder_attn.v_proj")  # projected once per sentence
    assert linears and all(m.packed != n.endswith(memory) for n, m in linears.items())
    assert not any(m.packed for m in model.encoder.modules() if isinstance(m, Linear))
    with pytest.raises(RuntimeError, match="packed for CPU inference"):
        model.train()


@pytest.mark.skipif(not ONEDNN_LINEAR, reason="this torch build has no oneDNN linear")
def test_the_output_projection_is_packed_only_when_asked(released_caption, monkeypatch):
    monkeypatch.setenv("UNIVAL_PACK_OUTPUT_PROJECTION", "1")
    assert load(released_caption, device="cpu").model.decoder.output_projection.packed
    monkeypatch.setenv("UNIVAL_PACK_OUTPUT_PROJECTION", "0")
    assert not load(released_caption, device="cpu").model.decoder.output_projection.packed


def test_ema_weights_are_selected_and_fp32(released_caption):
    predictor = load(released_caption, ema=True, device="cpu")
    ema = _file_weights(released_caption, "ema")
    loaded = predictor.model.state_dict()
    key = "encoder.layers.0.fc1.weight"
    assert torch.equal(loaded[key], ema[key])
    assert torch.equal(loaded[key], _file_weights(released_caption)[key] + 0.01)
    assert loaded[key].dtype == torch.float32 and predictor.assets.weights == "ema"


def test_missing_and_unexpected_weights_are_refused(released_caption, tmp_path):
    state = torch.load(released_caption, map_location="cpu", weights_only=False)
    cfg = model_config(state["cfg"]["model"])
    dictionary = placeholder_dictionary(state["model"]["encoder.embed_tokens.weight"].size(0))
    weights = dict(state["model"])
    del weights["decoder.layers.1.fc2.bias"]
    with pytest.raises(CheckpointMismatchError, match="missing.*decoder.layers.1.fc2.bias"):
        load_weights(build_unival_model(cfg, dictionary), weights)
    extra = dict(state["model"], **{"encoder.not_a_module.weight": torch.zeros(2)})
    with pytest.raises(CheckpointMismatchError, match="not_a_module"):
        load_weights(build_unival_model(cfg, dictionary), extra)
    model = build_unival_model(cfg, dictionary)
    load_weights(model, extra, strict=False)  # non-strict: the extra entry is ignored
    assert torch.equal(
        model.state_dict()["encoder.layers.0.fc1.weight"],
        state["model"]["encoder.layers.0.fc1.weight"],
    )
    # the recomputed buffers may be absent from a file (the parity fixture leaves them out)
    slim = {k: v for k, v in state["model"].items() if k not in DETERMINISTIC_BUFFERS}
    load_weights(build_unival_model(cfg, dictionary), slim)


def test_a_dictionary_of_the_wrong_size_is_refused(released_caption, tmp_path):
    short = tmp_path / "dict.txt"
    lines = (released_caption.parent / "dict.txt").read_text().splitlines()
    short.write_text("\n".join(lines[:-3]) + "\n")
    with pytest.raises(CheckpointMismatchError, match="vocabulary has .* entries"):
        load(released_caption, dict_path=str(short), device="cpu")


def test_without_a_dictionary_the_error_says_what_to_pass(released_caption, tmp_path):
    lonely = tmp_path / "lonely.pt"
    lonely.write_bytes(released_caption.read_bytes())
    with pytest.raises(FileNotFoundError, match="dict_path"):
        load(lonely, device="cpu")


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def test_a_planted_malicious_pickle_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"model": {}, "cfg": None, "payload": _RunsCode(str(marker))}, path)
    with pytest.raises(UntrustedCheckpointError, match=r"refusing to load checkpoint .*evil\.pt"):
        load(path, dict_path=str(path), device="cpu")
    assert not marker.exists()
    assert isinstance(UntrustedCheckpointError(str(path), "os.mkdir"), pickle.UnpicklingError)


def test_legacy_args_layout_and_name_aliases(released_caption, tmp_path):
    state = torch.load(released_caption, map_location="cpu", weights_only=False)
    args = argparse.Namespace(**vars(state["cfg"]["model"]), task="caption", patch_image_size=64)
    legacy = {"args": args, "cfg": None, "model": state["model"]}
    path = tmp_path / "legacy.pt"
    torch.save(legacy, path)
    predictor = load(path, dict_path=str(released_caption.parent / "dict.txt"), device="cpu")
    assert predictor.task_name == "caption" and predictor.saved_task["patch_image_size"] == 64
    assert (
        resolve_arch("ofa_base") == "unival_base" and resolve_arch("unival_base") == "unival_base"
    )
    assert (
        resolve_task("refcocog") == "refcoco" and resolve_task("video_caption") == "video_caption"
    )
    assert model_config({"_name": "unival_base"}).encoder_embed_dim == 768
    assert model_config({"_name": "ofa_tiny"}).image_encoder_name == "resnet"


def test_reference_state_dict_with_official_names_loads_strictly(parity_dir, tmp_path):
    """The parity fixture (made by the original research code) in the released layout."""
    config = json.loads((parity_dir / "config.json").read_text())
    args = dict(config["args"], _name="unival_base", resnet_layers="1,1,1", video_layers="1,1,1")
    weights = torch.load(parity_dir / "model_state_dict.pt", weights_only=True)
    path = tmp_path / "reference_layout.pt"
    torch.save(
        {
            "args": None,
            "cfg": {"model": argparse.Namespace(**args), "task": {"_name": "caption"}},
            "model": weights,
            "extra_state": {},
        },
        path,
    )
    state = read_checkpoint(path)  # allow-listed loading accepts the Namespace
    model = build_unival_model(
        model_config(state["cfg"]["model"]),
        placeholder_dictionary(config["fixture"]["dictionary"]["size"]),
    )
    load_weights(model, state["model"])
    loaded = model.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in weights.items())
