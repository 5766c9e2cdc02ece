"""Hallucination and complex-instruction probes from the shell, on tiny toy checkpoints.

``unival toy-world`` writes a small world; ``fairseq-train`` runs 2 updates of ``unival_tiny``
for captioning and for VQA. Then, as a user types them: ``unival eval --metric chair``
(caption checkpoint, toy scenes as ground truth), ``unival pope build`` + ``unival eval
--metric pope`` (VQA checkpoint), ``unival probe build`` + ``unival eval --metric probe`` +
``unival probe score``, and a zero-shot VQA evaluation of the caption checkpoint
(``--zero-shot --task vqa_gen --noconstraints --prompt-type none``). The tiny models' numbers
do not matter; each test recomputes the printed metrics from the written predictions.
"""

import json
import sys

import pytest
from helpers import BIN, run_logged

pytestmark = pytest.mark.slow  # about 2 minutes on 2 idle CPU cores

UNIVAL = BIN / "unival"


def _train(world, root, repo_root, task, extra):
    save_dir = root / f"{task}_ckpt"
    run_logged(
        [
            BIN / "fairseq-train",
            f"{world}/{task}_train.tsv,{world}/{task}_valid.tsv",
            "--user-dir",
            repo_root / "fairseq_plugins" / "unival",
            "--arch",
            "unival_tiny",
            "--patch-image-size",
            "64",
            "--criterion",
            "adjust_label_smoothed_cross_entropy",
            "--optimizer",
            "adam",
            "--lr",
            "1e-3",
            "--batch-size",
            "8",
            "--max-update",
            "2",
            "--seed",
            "1",
            "--disable-validation",
            "--ignore-unused-valid-subsets",
            "--save-dir",
            save_dir,
            "--no-epoch-checkpoints",
            "--cpu",
            "--num-workers",
            "0",
            "--log-format",
            "simple",
            *extra,
        ],
        cwd=repo_root,
        log_path=root / f"train_{task}.log",
        timeout=600,
    )
    return save_dir / "checkpoint_last.pt"


@pytest.fixture(scope="module")
def trained(tmp_path_factory, repo_root):
    if not (BIN / "fairseq-train").exists() or not UNIVAL.exists():
        pytest.skip(f"fairseq-train / unival are not installed beside {sys.executable}")
    root = tmp_path_factory.mktemp("probes_e2e")
    world = root / "toy"
    run_logged(
        [
            UNIVAL,
            "toy-world",
            "--out",
            world,
            "--seed",
            "0",
            "--num-train",
            "16",
            "--num-valid",
            "2",
            "--num-test",
            "4",
        ],
        cwd=repo_root,
        log_path=root / "toy.log",
    )
    caption = _train(
        world, root, repo_root, "caption", ["--task", "caption", "--selected-cols", "0,4,2"]
    )
    vqa = _train(
        world,
        root,
        repo_root,
        "vqa",
        [
            "--task",
            "vqa_gen",
            "--selected-cols",
            "0,5,2,3,4",
            "--ans2label-file",
            world / "vqa_answers.txt",
        ],
    )
    return {"root": root, "world": world, "caption": caption, "vqa": vqa, "repo": repo_root}


def _eval(t, checkpoint, name, *flags):
    out = t["root"] / name
    log = run_logged(
        [UNIVAL, "eval", checkpoint, "--results-path", out, "--cpu", "--batch-size", "8", *flags],
        cwd=t["repo"],
        log_path=t["root"] / f"{name}.log",
        timeout=600,
    )
    return (
        out,
        json.loads((out / "scores.json").read_text()),
        json.loads((out / "predictions.json").read_text()),
        log,
    )


def test_chair_of_a_caption_checkpoint(trained):
    t = trained
    scenes = json.loads((t["world"] / "scenes_test.json").read_text())["scenes"]
    out, scores, predictions, log = _eval(
        t,
        t["caption"],
        "chair",
        "--data",
        t["world"] / "caption_test.tsv",
        "--selected-cols",
        "1,4,2",
        "--beam",
        "2",
        "--max-len-b",
        "8",
        "--metric",
        "chair",
        "--gt-objects",
        t["world"] / "scenes_test.json",
    )
    assert "chair_i" in log and "chair_s" in log
    detail = json.loads((out / "chair.json").read_text())
    assert sorted(r["image_id"] for r in detail["captions"]) == sorted(
        p["image_id"] for p in predictions
    )
    assert scores["n_captions"] == len(scenes) == 4
    # every hallucinated name is absent from the scene, every correct one present (read here)
    truth = {
        int(s["image_id"]): {f"{o['color']} {o['shape']}" for o in s["objects"]}
        | {o["shape"] for o in s["objects"]}
        for s in scenes
    }
    for record in detail["captions"]:
        assert not set(record["hallucinated"]) & truth[record["image_id"]]
        assert set(record["correct"]) <= truth[record["image_id"]]
    mentions = sum(len(r["mentioned"]) for r in detail["captions"])
    bad = sum(len(r["hallucinated"]) for r in detail["captions"])
    assert scores["chair_i"] == pytest.approx(bad / mentions if mentions else 0.0)
    assert scores["chair_s"] == pytest.approx(
        sum(bool(r["hallucinated"]) for r in detail["captions"]) / 4
    )


def test_pope_of_a_vqa_checkpoint(trained):
    t = trained
    pope = t["root"] / "pope"
    run_logged(
        [
            UNIVAL,
            "pope",
            "build",
            "--gt",
            t["world"] / "scenes_test.json",
            "--out",
            pope,
            "--strategies",
            "random,adversarial",
            "--per-image",
            "1",
        ],
        cwd=t["repo"],
        log_path=t["root"] / "pope.log",
    )
    rows = [line.split("\t") for line in (pope / "pope_adversarial.tsv").read_text().splitlines()]
    assert len(rows) == 8 and [r[3] for r in rows].count("1.0|!+yes") == 4
    _, scores, predictions, log = _eval(
        t,
        t["vqa"],
        "pope_eval",
        "--data",
        pope / "pope_adversarial.tsv",
        "--dict-path",
        t["world"] / "dict.txt",
        "--val-inference-type",
        "allcand",
        "--metric",
        "pope",
    )
    assert "pope_f1" in log and "pope_yes_ratio" in log
    label = {int(r[0]): r[3].split("|!+")[1] for r in rows}
    said = {p["question_id"]: p["answer"] for p in predictions}
    tp = sum(said[q] == "yes" and label[q] == "yes" for q in label)
    tn = sum(said[q] != "yes" and label[q] == "no" for q in label)
    assert scores["pope_accuracy"] == pytest.approx((tp + tn) / 8)
    assert scores["pope_yes_ratio"] == pytest.approx(sum(a == "yes" for a in said.values()) / 8)
    assert scores["pope_recall"] == pytest.approx(tp / 4)


def test_complex_probe_of_a_vqa_checkpoint(trained):
    t = trained
    probe = t["root"] / "probe"
    run_logged(
        [UNIVAL, "probe", "build", "--out", probe, "--num-scenes", "2"],
        cwd=t["repo"],
        log_path=t["root"] / "probe.log",
    )
    out, scores, predictions, _ = _eval(
        t,
        t["vqa"],
        "probe_eval",
        "--data",
        probe / "probe_vqa.tsv",
        "--dict-path",
        t["world"] / "dict.txt",
        "--ans2label-file",
        probe / "probe_answers.txt",
        "--val-inference-type",
        "allcand",
        "--metric",
        "probe",
    )
    side = json.loads((probe / "probe_vqa.categories.json").read_text())
    assert scores["probe_all_n"] == len(side) == len(predictions)
    for category in {v["category"] for v in side.values()}:
        ids = [k for k, v in side.items() if v["category"] == category]
        said = {str(p["question_id"]): p["answer"] for p in predictions}
        right = sum(said[k] == side[k]["answer"] for k in ids)
        assert scores[f"probe_{category}_accuracy"] == pytest.approx(right / len(ids))
    printed = run_logged(
        [
            UNIVAL,
            "probe",
            "score",
            "--predictions",
            out / "predictions.json",
            "--categories",
            probe / "probe_vqa.categories.json",
            "--out",
            t["root"] / "probe_scores.json",
        ],
        cwd=t["repo"],
        log_path=t["root"] / "probe_score.log",
    )
    again = json.loads((t["root"] / "probe_scores.json").read_text())
    assert (
        again["all"]["accuracy"] == pytest.approx(scores["probe_all_accuracy"])
        and "count" in printed
    )


def test_zero_shot_vqa_of_a_caption_checkpoint(trained):
    t = trained
    rows = (t["world"] / "vqa_test.tsv").read_text().splitlines()
    _, scores, predictions, log = _eval(
        t,
        t["caption"],
        "zero_shot",
        "--data",
        t["world"] / "vqa_test.tsv",
        "--selected-cols",
        "0,5,2,3,4",
        "--zero-shot",
        "--task",
        "vqa_gen",
        "--noconstraints",
        "--prompt-type",
        "none",
        "--beam",
        "2",
        "--max-len-b",
        "4",
    )
    assert "zero-shot: task vqa_gen built from the command line (checkpoint task caption)" in log
    assert scores["inference"] == "beamsearch" and scores["n"] == len(rows) == len(predictions)
