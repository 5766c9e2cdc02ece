"""audio_caption end to end: toy wav/flac clips -> fairseq-train -> ``unival eval``.

8 toy clips (resampled to 16 kHz, cropped/padded to 0.5 s) train ``unival_tiny`` with the
``pann_cnn6`` audio encoder for 12 updates; the evaluation command writes predictions and
scores for the test file.
"""

import json
import sys

import pytest
from caption_scores import assert_scores_match
from helpers import BIN, run_logged
from toy_media_data import build_media_world, epoch_losses

pytestmark = pytest.mark.slow  # about 30 s on 2 CPU cores


@pytest.fixture(scope="module")
def trained(tmp_path_factory, repo_root):
    if not (BIN / "fairseq-train").exists():
        pytest.skip(f"fairseq-train is not installed beside {sys.executable}")
    root = build_media_world(tmp_path_factory.mktemp("audio_caption_e2e"))
    save_dir = root / "checkpoints"
    log = run_logged(
        [
            BIN / "fairseq-train",
            f"{root / 'audio_caption_train.tsv'},{root / 'audio_caption_valid.tsv'}",
            "--user-dir",
            repo_root / "fairseq_plugins" / "unival",
            "--task",
            "audio_caption",
            "--arch",
            "unival_tiny",
            "--audio-encoder-name",
            "pann_cnn6",
            "--hop-size",
            "200",
            "--selected-cols",
            "0,4,2",
            "--image-dir",
            root,
            "--audio-sample-rate",
            "--sample-rate",
            "16000",
            "--max-audio-len",
            "8000",
            "--criterion",
            "adjust_label_smoothed_cross_entropy",
            "--label-smoothing",
            "0.1",
            "--optimizer",
            "adam",
            "--lr",
            "1e-3",
            "--batch-size",
            "8",
            "--max-update",
            "12",
            "--seed",
            "1",
            "--eval-cider",
            "--eval-args",
            '{"beam":2,"max_len_b":12}',
            "--best-checkpoint-metric",
            "cider",
            "--maximize-best-checkpoint-metric",
            "--ignore-unused-valid-subsets",
            "--save-dir",
            save_dir,
            "--no-epoch-checkpoints",
            "--cpu",
            "--num-workers",
            "0",
            "--log-format",
            "simple",
            "--log-interval",
            "3",
        ],
        cwd=repo_root,
        log_path=root / "train.log",
    )
    return {"root": root, "checkpoint": save_dir / "checkpoint_best.pt", "log": log}


def test_training_lowers_the_loss_and_scores_cider(trained):
    losses = epoch_losses(trained["log"])
    assert len(losses) == 4, trained["log"][-3000:]
    assert losses[-1] < 0.9 * losses[0], losses
    assert "| cider " in trained["log"] and "best_cider" in trained["log"]


def test_evaluation_writes_one_caption_per_test_clip(trained, repo_root):
    root, results = trained["root"], trained["root"] / "results"
    run_logged(
        [
            sys.executable,
            "-m",
            "unival.commands.eval",
            trained["checkpoint"],
            "--data",
            root / "audio_caption_test.tsv",
            "--beam",
            "2",
            "--max-len-b",
            "8",
            "--batch-size",
            "4",
            "--results-path",
            results,
            "--cpu",
        ],
        cwd=repo_root,
        log_path=root / "eval.log",
    )
    test_ids = [
        int(line.split("\t")[0])
        for line in (root / "audio_caption_test.tsv").read_text().splitlines()
    ]
    predictions = json.loads((results / "predictions.json").read_text())
    assert sorted(p["image_id"] for p in predictions) == sorted(test_ids)
    scores = json.loads((results / "scores.json").read_text())
    assert scores["n"] == len(test_ids) and scores["nskipped"] == 0
    assert_scores_match(
        scores,
        results / "predictions.json",
        root / "audio_caption_test.tsv",
        id_column=0,
        caption_column=2,
    )


def test_python_api_captions_equal_unival_eval(trained, repo_root):
    """``unival.load(...).caption_audio`` reads, resamples and crops as the evaluation does."""
    from unival.hub import load

    root, results = trained["root"], trained["root"] / "results_api"
    run_logged(
        [
            sys.executable,
            "-m",
            "unival.commands.eval",
            trained["checkpoint"],
            "--data",
            root / "audio_caption_test.tsv",
            "--beam",
            "2",
            "--max-len-b",
            "8",
            "--batch-size",
            "64",
            "--results-path",
            results,
            "--cpu",
        ],
        cwd=repo_root,
        log_path=root / "eval_api.log",
    )
    rows = [line.split("\t") for line in (root / "audio_caption_test.tsv").read_text().splitlines()]
    by_id = {
        p["image_id"]: p["caption"] for p in json.loads((results / "predictions.json").read_text())
    }
    api = load(trained["checkpoint"], device="cpu").caption_audio(
        [root / r[4] for r in rows], batch_size=64, beam=2, max_len_b=8
    )  # the evaluation's flags only
    assert api == [by_id[int(r[0])] for r in rows]
