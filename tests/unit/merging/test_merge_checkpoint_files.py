"""Checkpoint level: real fairseq files in, merged fairseq file out, provenance included."""

import hashlib

import pytest
import torch

from unival.merging import interpolate, plan_merge
from unival.merging.checkpoint import (
    build_merged_checkpoint,
    load_checkpoint,
    merge_metadata,
    save_checkpoint,
)
from unival.safe_load import load_checkpoint_file

TIED = (
    "encoder.embed_tokens.weight",
    "decoder.embed_tokens.weight",
    "decoder.output_projection.weight",
)


def _sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_load_selects_model_or_ema_weights(checkpoint_pair):
    a_path, _ = checkpoint_pair
    model = load_checkpoint(a_path)
    ema = load_checkpoint(a_path, ema=True)
    assert model.source == "model" and ema.source == "ema"
    assert torch.equal(model.weights["encoder.layers.0.fc1.weight"], torch.tensor([1.0, -1.0]))
    assert torch.equal(ema.weights["encoder.layers.0.fc1.weight"], torch.tensor([5.0, 5.0]))
    assert model.num_updates == 100 and model.sha256 == _sha256(a_path)
    assert model.fields == {}


def test_missing_ema_is_a_clear_error(tmp_path, write_checkpoint, tied_state):
    path = write_checkpoint(tmp_path / "no_ema.pt", tied_state([[1.0]], [1.0]))
    with pytest.raises(ValueError, match=r"no_ema.pt has no EMA weights \(extra_state\['ema'\]\)"):
        load_checkpoint(path, ema=True)


def test_merged_checkpoint_round_trip(tmp_path, checkpoint_pair):
    a_path, b_path = checkpoint_pair
    a = load_checkpoint(a_path, keep_fields=True)
    b = load_checkpoint(b_path)
    merged = interpolate(a.weights, b.weights, 0.5)
    notes = plan_merge([a.weights, b.weights], ["A", "B"]).notes()
    metadata = merge_metadata(
        "interpolate", "lam * A + (1 - lam) * B", [("A", a), ("B", b)], {"lam": 0.5}, notes, a
    )
    out = save_checkpoint(build_merged_checkpoint(a, merged, metadata), tmp_path / "out" / "m.pt")

    loaded = load_checkpoint_file(out)  # weights-only, allow-listed: no trust needed
    original = load_checkpoint_file(a_path)
    assert list(loaded)[:3] == ["args", "cfg", "model"]
    assert loaded["cfg"]["task"] == {"_name": "caption"}  # the first input's cfg
    assert loaded["cfg"]["model"].arch == "toy_linear"
    assert loaded["optimizer_history"] == original["optimizer_history"]
    assert "last_optimizer_state" not in loaded
    extra = loaded["extra_state"]
    assert "ema" not in extra and "ema_fp32_params" not in extra
    assert extra["train_iterator"] == {"epoch": 2, "iterations_in_epoch": 0}

    model = loaded["model"]
    for key in TIED:
        assert torch.equal(model[key], torch.tensor([[2.0, 1.0], [4.0, 6.0]]))
    assert len({model[key].data_ptr() for key in TIED}) == 1  # still one tensor on disk
    assert torch.equal(model["encoder.layers.0.fc1.weight"], torch.tensor([2.0, 0.0]))
    assert model["encoder.embed_images.bn1.num_batches_tracked"].item() == 4

    info = extra["merge"]
    assert info["method"] == "interpolate" and info["hyperparameters"] == {"lam": 0.5}
    assert [(i["role"], i["sha256"], i["num_updates"], i["weights"]) for i in info["inputs"]] == [
        ("A", _sha256(a_path), 100, "model"),
        ("B", _sha256(b_path), 200, "model"),
    ]
    assert info["rules"]["copied_but_different"] == {
        "encoder.embed_images.bn1.num_batches_tracked": ["B"]
    }
    assert info["rules"]["tied_groups"] == [list(TIED)]
    assert info["tool"].startswith("unival-toolkit ")


def test_fairseq_reads_the_merged_checkpoint(tmp_path, checkpoint_pair):
    from fairseq import checkpoint_utils

    a_path, b_path = checkpoint_pair
    a, b = load_checkpoint(a_path, keep_fields=True), load_checkpoint(b_path)
    out = tmp_path / "m.pt"
    save_checkpoint(
        build_merged_checkpoint(a, interpolate(a.weights, b.weights, 1.0), {"x": 1}), out
    )
    state = checkpoint_utils.load_checkpoint_to_cpu(str(out))
    assert torch.equal(state["model"]["encoder.layers.0.fc1.weight"], torch.tensor([1.0, -1.0]))
    assert state["extra_state"]["merge"] == {"x": 1}


def test_an_input_that_is_a_merge_carries_its_provenance(tmp_path, checkpoint_pair):
    a_path, b_path = checkpoint_pair
    a, b = load_checkpoint(a_path, keep_fields=True), load_checkpoint(b_path)
    first = save_checkpoint(
        build_merged_checkpoint(a, a.weights, {"method": "first"}), tmp_path / "first.pt"
    )
    again = load_checkpoint(first, keep_fields=True)
    assert again.provenance == {"method": "first"}
    assert again.describe("A")["merge"] == {"method": "first"}
    assert "merge" not in again.fields["extra_state"]  # replaced, never inherited silently
    assert "merge" not in b.describe("B")


def test_save_refuses_to_overwrite_and_template_needs_fields(tmp_path, checkpoint_pair):
    a_path, _ = checkpoint_pair
    a = load_checkpoint(a_path, keep_fields=True)
    with pytest.raises(FileExistsError, match="--force"):
        save_checkpoint(build_merged_checkpoint(a, a.weights, {}), a_path)
    with pytest.raises(ValueError, match="keep_fields=True"):
        build_merged_checkpoint(load_checkpoint(a_path), a.weights, {})
