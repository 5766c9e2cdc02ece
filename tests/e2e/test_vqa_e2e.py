"""VQA end to end through the commands a user types: fairseq-train -> unival eval.

Tiny TSVs of solid-colour squares with two question kinds ("what color is the square?" ->
colour word, "is the square red?" -> yes/no), a text candidate list, ``unival_tiny``
trained for 12 updates on CPU with trie-constrained training and beam-search validation
(``vqa_score`` selects the checkpoint); then evaluation with all-candidate scoring and with
beam search. Every predicted answer must be a candidate.
"""

import json
import re
import sys
from pathlib import Path

import pytest
from helpers import BIN, run_logged  # noqa: E402
from PIL import Image

from unival.data.io.image import encode_image_base64
from unival.tokenizer import build_dictionary_from_texts, load_gpt2_bpe


def run(cmd, cwd, log_path, timeout=300):
    return run_logged(cmd, cwd, log_path, timeout)


COLOURS = {
    "red": (220, 20, 20),
    "green": (20, 200, 20),
    "blue": (20, 20, 220),
    "yellow": (230, 230, 20),
}
CANDIDATES = ["red", "green", "blue", "yellow", "yes", "no", "light blue"]
EPOCH_LOSS = re.compile(r"\| train \| epoch (\d+) \| loss ([\d.]+)")


def vqa_rows(start_id: int):
    """Rows (question_id, image_id, question, answers, objects, image): two per colour."""
    rows = []
    for i, (name, rgb) in enumerate(COLOURS.items()):
        image = encode_image_base64(Image.new("RGB", (16, 16), rgb))
        qid = start_id + 2 * i
        other = "yes" if name == "red" else "no"
        rows.append(
            [
                str(qid),
                str(i),
                "What color is the square",
                f"0.3|!+{name} square&&1.0|!+{name}",
                "",
                image,
            ]
        )
        rows.append([str(qid + 1), str(i), "is the square red?", f"1.0|!+{other}", "", image])
    return rows


def write_vqa_data(root: Path) -> dict:
    def write(name, rows):
        (root / name).write_text("".join("\t".join(r) + "\n" for r in rows))
        return root / name

    texts = [" what color is the square?", " is the square red?", " object:"] + [
        " " + c for c in CANDIDATES
    ]
    build_dictionary_from_texts(texts, load_gpt2_bpe(), save_path=root / "dict.txt")
    (root / "candidates.txt").write_text("\n".join(CANDIDATES) + "\n")
    return {
        "train": write("train.tsv", vqa_rows(100) * 2),
        "valid": write("valid.tsv", vqa_rows(500)),
        "candidates": root / "candidates.txt",
    }


@pytest.fixture(scope="module")
def trained(tmp_path_factory, repo_root):
    if not (BIN / "fairseq-train").exists():
        pytest.skip(f"fairseq-train is not installed beside {sys.executable}")
    root = tmp_path_factory.mktemp("vqa_e2e")
    data = write_vqa_data(root)
    save_dir = root / "checkpoints"
    log = run(
        [
            BIN / "fairseq-train",
            f"{data['train']},{data['valid']}",
            "--user-dir",
            repo_root / "fairseq_plugins" / "unival",
            "--task",
            "vqa_gen",
            "--arch",
            "unival_tiny",
            "--selected-cols",
            "0,5,2,3,4",
            "--patch-image-size",
            "32",
            "--ans2label-file",
            data["candidates"],
            "--prompt-type",
            "prev_output",
            "--val-inference-type",
            "beamsearch",
            "--eval-args",
            '{"beam":2,"unnormalized":true,"temperature":1.0}',
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
            "--validate-interval",
            "3",
            "--save-interval",
            "3",
            "--best-checkpoint-metric",
            "vqa_score",
            "--maximize-best-checkpoint-metric",
            "--ignore-unused-valid-subsets",
            "--save-dir",
            save_dir,
            "--no-epoch-checkpoints",
            "--no-last-checkpoints",
            "--cpu",
            "--num-workers",
            "0",
            "--log-format",
            "simple",
            "--log-interval",
            "2",
        ],
        cwd=repo_root,
        log_path=root / "train.log",
    )
    return {"root": root, "data": data, "checkpoint": save_dir / "checkpoint_best.pt", "log": log}


def test_training_lowers_the_loss_and_selects_by_vqa_score(trained):
    losses = [float(loss) for _, loss in EPOCH_LOSS.findall(trained["log"])]
    assert len(losses) == 6, trained["log"][-3000:]
    assert all(loss == loss for loss in losses), losses  # no NaN from the all-False prompt rows
    assert losses[-1] < 0.8 * losses[0], losses
    assert re.search(r"valid on 'valid' subset .*\| vqa_score [\d.]+", trained["log"])
    assert "best_vqa_score" in trained["log"]
    assert trained["checkpoint"].is_file()


@pytest.mark.parametrize("mode", ["allcand", "beamsearch"])
def test_evaluation_writes_candidate_answers_and_scores(trained, repo_root, mode):
    results = trained["root"] / f"results_{mode}"
    extra = (
        [
            "--beam-search-vqa-eval",
            "--beam",
            "2",
            "--max-len-b",
            "200",
            "--no-repeat-ngram-size",
            "0",
            "--unnormalized",
        ]
        if mode == "beamsearch"
        else ["--val-inference-type", "allcand"]
    )
    run(
        [
            sys.executable,
            "-m",
            "unival.commands.eval",
            trained["checkpoint"],
            "--data",
            trained["data"]["valid"],
            "--results-path",
            results,
            "--batch-size",
            "3",
            "--cpu",
            *extra,
        ],
        cwd=repo_root,
        log_path=trained["root"] / f"eval_{mode}.log",
    )
    predictions = json.loads((results / "predictions.json").read_text())
    assert sorted(p["question_id"] for p in predictions) == list(range(500, 508))
    assert all(p["answer"] in CANDIDATES for p in predictions), predictions
    scores = json.loads((results / "scores.json").read_text())
    assert scores["n"] == 8 and scores["nskipped"] == 0 and scores["inference"] == mode
    # the score is the mean reference confidence of the written answers, recomputed here
    refs = {
        int(r[0]): dict((v, float(c)) for c, v in (a.split("|!+") for a in r[3].split("&&")))
        for r in vqa_rows(500)
    }
    expected = sum(refs[p["question_id"]].get(p["answer"], 0.0) for p in predictions) / 8
    assert scores["vqa_score"] == pytest.approx(expected, abs=1e-6)
