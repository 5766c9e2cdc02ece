"""``unival export``: safetensors + config.json + dictionary/BPE files, bit-exact round trip."""

import json
import os

import pytest
import torch
from PIL import Image
from safetensors import safe_open

from unival import cli
from unival.hub import export_model, load
from unival.hub.export import ASSET_FILES, CONFIG_FILE, WEIGHTS_FILE


@pytest.fixture(scope="module")
def exported(caption_predictor, tmp_path_factory):
    return export_model(caption_predictor, tmp_path_factory.mktemp("export") / "caption")


def test_round_trip_is_bit_exact(caption_predictor, exported):
    reloaded = load(exported, device="cpu")
    before, after = caption_predictor.model.state_dict(), reloaded.model.state_dict()
    assert set(before) == set(after)
    for key, value in before.items():
        assert after[key].dtype == value.dtype and torch.equal(after[key], value), key
    shared = reloaded.model.encoder.embed_tokens.weight
    assert reloaded.model.decoder.output_projection.weight.data_ptr() == shared.data_ptr()
    assert reloaded.task_name == "caption" and reloaded.saved_task["patch_image_size"] == 64


def test_folder_holds_the_five_files_and_stores_tied_weights_once(exported, caption_predictor):
    names = set(os.listdir(exported))
    assert names == {WEIGHTS_FILE, CONFIG_FILE, *ASSET_FILES}
    with safe_open(f"{exported}/{WEIGHTS_FILE}", framework="pt") as handle:
        stored = set(handle.keys())
        tied = json.loads(handle.metadata()["tied"])
    assert tied == {
        "decoder.embed_tokens.weight": "encoder.embed_tokens.weight",
        "decoder.output_projection.weight": "encoder.embed_tokens.weight",
    }
    assert "encoder.embed_tokens.weight" in stored and not stored & set(tied)
    assert "encoder.image_rp_bucket" not in stored  # recomputed by the model
    with open(f"{exported}/dict.txt") as copy, open(caption_predictor.assets.dict_path) as original:
        assert copy.read() == original.read()


def test_config_drops_machine_paths_and_inlines_candidate_answers(released_vqa, tmp_path):
    predictor = load(released_vqa, device="cpu")
    folder = export_model(predictor, tmp_path / "vqa")
    config = json.loads((tmp_path / "vqa" / CONFIG_FILE).read_text())
    assert config["format"] == "unival-export" and config["model"]["_name"] == "unival_base"
    assert config["task"]["_name"] == "vqa_gen"
    assert not {"data", "bpe_dir", "dict_path", "ans2label_file"} & set(config["task"])
    answers = (released_vqa.parent / "answers.txt").read_text().split()
    assert list(json.loads(config["task"]["ans2label_dict"])) == answers
    reloaded = load(folder, device="cpu")
    img = Image.new("RGB", (40, 30), (128, 30, 200))
    assert reloaded.vqa([img], ["what colour is it"]) == predictor.vqa([img], ["what colour is it"])


def test_export_refuses_a_non_empty_folder_and_the_cli_writes_one(
    released_caption, exported, tmp_path, capsys
):
    with pytest.raises(FileExistsError):
        export_model(load(exported, device="cpu"), exported)
    out = tmp_path / "from_cli"
    assert cli.main(["export", str(released_caption), str(out), "--ema"]) == 0
    config = json.loads((out / CONFIG_FILE).read_text())
    assert config["weights"]["selected"] == "ema"
    assert torch.equal(
        load(out, device="cpu").model.state_dict()["encoder.layers.0.fc1.weight"],
        load(released_caption, ema=True, device="cpu").model.state_dict()[
            "encoder.layers.0.fc1.weight"
        ],
    )


def test_unknown_export_format_is_refused(exported, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(exported, copy)
    config = json.loads((copy / CONFIG_FILE).read_text())
    config["format_version"] = 99
    (copy / CONFIG_FILE).write_text(json.dumps(config))
    with pytest.raises(ValueError, match="format"):
        load(copy, device="cpu")
