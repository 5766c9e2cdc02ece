"""``unival eval``: per-task generation defaults, ``--ema-eval`` and the printed metric table."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from unival.commands import eval as evaluate
from unival.data.io.image import encode_image_base64
from unival.evaluation.loading import load_models_and_task
from unival.evaluation.run import generation_args
from unival.hub import load
from unival.testing.toy_checkpoint import write_toy_checkpoint
from unival.tokenizer import default_bpe_files

UNIVAL = Path(sys.executable).parent / "unival"
COLOURS = ((200, 20, 20), (20, 200, 20), (20, 20, 200))


def _settings(task_name, *flags):
    return vars(
        generation_args(
            evaluate.build_parser().parse_args(
                ["ck.pt", "--data", "d.tsv", "--results-path", "out", *flags]
            ),
            task_name,
        )
    )


def test_unset_flags_take_the_checkpoint_tasks_released_settings():
    # the released eval_caption.sh; video/audio caption: beam 5, unnormalized, max_len_b 200,
    # no blocking
    assert _settings("caption") == {
        "beam": 5,
        "max_len_a": 0,
        "max_len_b": 22,
        "min_len": 1,
        "no_repeat_ngram_size": 3,
        "lenpen": 1,
        "unnormalized": True,
        "temperature": 1.0,
    }
    assert _settings("video_caption") == {
        "beam": 5,
        "max_len_a": 0,
        "max_len_b": 200,
        "min_len": 1,
        "no_repeat_ngram_size": 0,
        "lenpen": 1,
        "unnormalized": True,
        "temperature": 1.0,
    }
    refcoco = _settings("refcoco")
    assert (refcoco["min_len"], refcoco["max_len_b"], refcoco["no_repeat_ngram_size"]) == (4, 4, 3)


def test_given_flags_win_even_when_they_are_zero_or_false():
    settings = _settings(
        "caption",
        "--beam",
        "2",
        "--no-repeat-ngram-size",
        "0",
        "--no-unnormalized",
        "--max-len-b",
        "9",
    )
    assert (settings["beam"], settings["no_repeat_ngram_size"], settings["unnormalized"]) == (
        2,
        0,
        False,
    )
    assert settings["max_len_b"] == 9 and settings["max_len_a"] == 0
    assert _settings("video_caption", "--unnormalized", "--max-len-b", "22")["max_len_b"] == 22


@pytest.fixture(scope="module")
def images():
    return [Image.new("RGB", (40 + 8 * i, 32), c) for i, c in enumerate(COLOURS)]


def _write_tsv(path, rows):
    path.write_text("".join("\t".join(r) + "\n" for r in rows))
    return path


def _caption_data(tmp_path, images):
    rows = [
        [f"c{i}", str(i), "a red circle", "", encode_image_base64(img)]
        for i, img in enumerate(images)
    ]
    return _write_tsv(tmp_path / "test.tsv", rows)


def _evaluate(checkpoint, data, results, *extra):
    argv = [
        str(checkpoint),
        "--data",
        str(data),
        "--results-path",
        str(results),
        "--cpu",
        "--batch-size",
        "3",
        *extra,
    ]
    assert evaluate.main(argv) == 0
    return json.loads((results / "predictions.json").read_text())


def _refcoco_data(tmp_path, images):
    rows = [
        [f"g{i}", str(i), "the red circle", "1,2,20,30", encode_image_base64(img)]
        for i, img in enumerate(images)
    ]
    return _write_tsv(tmp_path / "test.tsv", rows)


def _boxes(records):
    return [r["box"] for r in records]


def _api_boxes(predictor, images):
    return [
        [round(c, 2) for c in box]
        for box in predictor.ground(images, ["the red circle"] * 3, batch_size=3)
    ]


def test_without_flags_eval_and_the_api_generate_alike(tmp_path, images, caplog):
    """No generation flag and no API setting: both use the one table (refcoco: 4 bins, beam 5)."""
    checkpoint = write_toy_checkpoint(tmp_path, "refcoco", layout="fairseq")
    with caplog.at_level("INFO", logger="unival.evaluate"):
        records = _evaluate(checkpoint, _refcoco_data(tmp_path, images), tmp_path / "out")
    assert (
        "generation settings (refcoco defaults): beam=5, max_len_a=0, max_len_b=4, min_len=4, "
        "no_repeat_ngram_size=3"
    ) in caplog.text
    assert _boxes(records) == _api_boxes(load(checkpoint, device="cpu"), images)


def test_a_released_layout_checkpoint_evaluates_with_dictionary_and_bpe_flags(tmp_path, images):
    """Released files name the authors' paths (absent here): --dict-path/--bpe-dir as in the
    README."""
    checkpoint = write_toy_checkpoint(tmp_path, "refcoco", layout="released")
    bpe_dir = os.path.dirname(default_bpe_files()[0])
    records = _evaluate(
        checkpoint,
        _refcoco_data(tmp_path, images),
        tmp_path / "out",
        "--dict-path",
        str(tmp_path / "dict.txt"),
        "--bpe-dir",
        bpe_dir,
    )
    assert _boxes(records) == _api_boxes(load(checkpoint, device="cpu"), images)


def _weights(model):
    return {k: v for k, v in model.state_dict().items() if v.is_floating_point()}


def test_ema_eval_evaluates_the_ema_weights(tmp_path, images):
    checkpoint = write_toy_checkpoint(tmp_path, "refcoco", layout="fairseq")
    saved = torch.load(checkpoint, weights_only=False)
    key = "decoder.layers.0.fc1.weight"  # the toy EMA is the weights + 0.01
    assert torch.allclose(saved["extra_state"]["ema"][key], saved["model"][key] + 0.01)
    data = _refcoco_data(tmp_path, images)
    parser = evaluate.build_parser()
    base = [str(checkpoint), "--data", str(data), "--results-path", str(tmp_path / "r"), "--cpu"]
    for flags, expected in (([], saved["model"]), (["--ema-eval"], saved["extra_state"]["ema"])):
        models, _, _, _ = load_models_and_task(parser.parse_args(base + flags))
        loaded = _weights(models[0])
        assert loaded and all(torch.equal(v, expected[k].float()) for k, v in loaded.items()), flags

    plain = _boxes(_evaluate(checkpoint, data, tmp_path / "plain"))
    ema = _boxes(_evaluate(checkpoint, data, tmp_path / "ema", "--ema-eval"))
    assert plain == _api_boxes(load(checkpoint, device="cpu"), images)
    assert ema == _api_boxes(load(checkpoint, ema=True, device="cpu"), images)
    assert ema != plain  # the two weight sets give different boxes here, so the check can fail


def test_ema_eval_without_ema_weights_says_so(tmp_path, images):
    checkpoint = write_toy_checkpoint(tmp_path, "caption", layout="fairseq")
    state = torch.load(checkpoint, weights_only=False)
    del state["extra_state"]["ema"]
    torch.save(state, checkpoint)
    with pytest.raises(
        ValueError, match=r"has no EMA weights \(extra_state\['ema'\]\): drop --ema-eval"
    ):
        _evaluate(checkpoint, _caption_data(tmp_path, images), tmp_path / "out", "--ema-eval")


def test_unival_eval_prints_the_metric_table(tmp_path, images):
    """The installed command, from the shell: scores table on stdout, settings in the log."""
    if not UNIVAL.is_file():
        pytest.skip(f"{UNIVAL} missing: pip install --no-deps -e .")
    checkpoint = write_toy_checkpoint(tmp_path, "snli_ve", layout="fairseq")
    rows = [
        [f"e{i}", str(i), encode_image_base64(img), h, "", "entailment"]
        for i, (h, img) in enumerate(zip(["a red circle", "two squares", "a big shape"], images))
    ]
    data = _write_tsv(tmp_path / "test.tsv", rows)
    proc = subprocess.run(
        [
            str(UNIVAL),
            "eval",
            str(checkpoint),
            "--data",
            str(data),
            "--results-path",
            str(tmp_path / "out"),
            "--cpu",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    scores = json.loads((tmp_path / "out" / "scores.json").read_text())
    table = proc.stdout.splitlines()
    assert table[0].startswith("snli_ve scores of ")
    for name, value in scores.items():
        shown = f"{value:.4f}" if isinstance(value, float) else str(value)
        assert any(line.split() == [name, shown] for line in table[1:]), (name, proc.stdout)
    assert "generation settings (snli_ve defaults): beam=5" in proc.stderr
