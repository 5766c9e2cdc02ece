"""video_vqa_gen end to end: toy clips + questions -> fairseq-train -> ``unival eval``.

Trie-constrained training over the toy answer list, beam-search validation (``vqa_score``),
then the evaluation command writes ``[{question_id, answer}]`` with every answer a candidate.
"""

import json
import sys

import pytest
from helpers import BIN, run_logged
from toy_media_data import build_media_world, epoch_losses

pytestmark = pytest.mark.slow  # about 35 s on 2 CPU cores


@pytest.fixture(scope="module")
def trained(tmp_path_factory, repo_root):
    if not (BIN / "fairseq-train").exists():
        pytest.skip(f"fairseq-train is not installed beside {sys.executable}")
    root = build_media_world(tmp_path_factory.mktemp("video_qa_e2e"))
    save_dir = root / "checkpoints"
    log = run_logged(
        [
            BIN / "fairseq-train",
            f"{root / 'video_qa_train.tsv'},{root / 'video_qa_valid.tsv'}",
            "--user-dir",
            repo_root / "fairseq_plugins" / "unival",
            "--task",
            "video_vqa_gen",
            "--arch",
            "unival_tiny",
            "--selected-cols",
            "0,5,2,3,4",
            "--image-dir",
            root,
            "--num-frames",
            "4",
            "--patch-frame-size",
            "32",
            "--eval-sample-type",
            "middle",
            "--ans2label-file",
            root / "video_qa_answers.txt",
            "--val-inference-type",
            "beamsearch",
            "--eval-args",
            '{"beam":2,"unnormalized":true}',
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
            "--best-checkpoint-metric",
            "vqa_score",
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


def test_training_lowers_the_loss_and_scores_answers(trained):
    losses = epoch_losses(trained["log"])
    assert len(losses) == 2, trained["log"][-3000:]  # 43 question rows / 8 = 6 updates an epoch
    assert losses[-1] < 0.9 * losses[0], losses
    assert "| vqa_score " in trained["log"] and "best_vqa_score" in trained["log"]


def test_evaluation_answers_every_question_from_the_candidates(trained, repo_root):
    root, results = trained["root"], trained["root"] / "results"
    run_logged(
        [
            sys.executable,
            "-m",
            "unival.commands.eval",
            trained["checkpoint"],
            "--data",
            root / "video_qa_test.tsv",
            "--beam",
            "2",
            "--batch-size",
            "8",
            "--results-path",
            results,
            "--cpu",
        ],
        cwd=repo_root,
        log_path=root / "eval.log",
    )
    rows = [line.split("\t") for line in (root / "video_qa_test.tsv").read_text().splitlines()]
    candidates = set((root / "video_qa_answers.txt").read_text().split())
    predictions = json.loads((results / "predictions.json").read_text())
    assert sorted(p["question_id"] for p in predictions) == sorted(r[0] for r in rows)
    assert all(p["answer"] in candidates for p in predictions), predictions
    scores = json.loads((results / "scores.json").read_text())
    assert scores["n"] == len(rows) and 0 <= scores["vqa_score"] <= 1


def test_python_api_answers_equal_unival_eval(trained, repo_root):
    """``unival.load(...).video_qa`` gives the evaluation's answers for the same clips and
    questions."""
    from unival.hub import load

    root, results = trained["root"], trained["root"] / "results_api"
    run_logged(
        [
            sys.executable,
            "-m",
            "unival.commands.eval",
            trained["checkpoint"],
            "--data",
            root / "video_qa_test.tsv",
            "--beam",
            "2",
            "--batch-size",
            "64",
            "--results-path",
            results,
            "--cpu",
        ],
        cwd=repo_root,
        log_path=root / "eval_api.log",
    )
    rows = [line.split("\t") for line in (root / "video_qa_test.tsv").read_text().splitlines()]
    by_id = {
        p["question_id"]: p["answer"]
        for p in json.loads((results / "predictions.json").read_text())
    }
    api = load(trained["checkpoint"], device="cpu").video_qa(
        [root / r[5] for r in rows], [r[2] for r in rows], batch_size=64, beam=2
    )  # the evaluation's flags only
    assert api == [by_id[r[0]] for r in rows]
