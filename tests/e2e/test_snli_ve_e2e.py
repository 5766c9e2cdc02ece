"""SNLI-VE end to end through the commands a user types: fairseq-train -> unival eval.

Solid-colour squares with hypotheses "the square is <colour>" (entailment when the colour
matches, contradiction otherwise) and "the square is heavy" (neutral); ``unival_tiny`` trains
for 8 updates with trie constraint masks and all-candidate validation (``snli_score``
selects the checkpoint); evaluation writes one prediction per row, always one of the three
answers, and the accuracy of those predictions.
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
LABEL_ANSWER = {"entailment": "yes", "contradiction": "no", "neutral": "maybe"}
EPOCH_LOSS = re.compile(r"\| train \| epoch (\d+) \| loss ([\d.]+)")


def snli_rows(prefix: str, hypothesis_colours):
    """Rows (uniq_id, image_id, image, hypothesis, premise, label)."""
    rows = []
    for i, (name, rgb) in enumerate(COLOURS.items()):
        image = encode_image_base64(Image.new("RGB", (16, 16), rgb))
        for other in hypothesis_colours(name):
            label = "entailment" if other == name else "contradiction"
            rows.append(
                [
                    f"{prefix}{len(rows)}",
                    str(i),
                    image,
                    f"The square is {other}.",
                    f"a {name} square",
                    label,
                ]
            )
        rows.append(
            [
                f"{prefix}{len(rows)}",
                str(i),
                image,
                "The square is heavy.",
                f"a {name} square",
                "neutral",
            ]
        )
    return rows


def write_snli_data(root: Path) -> dict:
    def write(name, rows):
        (root / name).write_text("".join("\t".join(r) + "\n" for r in rows))
        return root / name

    names = list(COLOURS)
    train = snli_rows("t", lambda name: [name, names[(names.index(name) + 1) % 4]])
    valid = snli_rows("v", lambda name: [names[(names.index(name) + 2) % 4]])
    texts = [' does the image describe " the square is heavy. "?', " yes", " no", " maybe"] + [
        f' does the image describe " the square is {n}. "?' for n in names
    ]
    build_dictionary_from_texts(texts, load_gpt2_bpe(), save_path=root / "dict.txt")
    return {
        "train": write("train.tsv", train),
        "valid": write("valid.tsv", valid),
        "valid_rows": valid,
    }


@pytest.fixture(scope="module")
def trained(tmp_path_factory, repo_root):
    if not (BIN / "fairseq-train").exists():
        pytest.skip(f"fairseq-train is not installed beside {sys.executable}")
    root = tmp_path_factory.mktemp("snli_ve_e2e")
    data = write_snli_data(root)
    save_dir = root / "checkpoints"
    log = run(
        [
            BIN / "fairseq-train",
            f"{data['train']},{data['valid']}",
            "--user-dir",
            repo_root / "fairseq_plugins" / "unival",
            "--task",
            "snli_ve",
            "--arch",
            "unival_tiny",
            "--selected-cols",
            "0,2,3,4,5",
            "--patch-image-size",
            "32",
            "--prompt-type",
            "prev_output",
            "--criterion",
            "adjust_label_smoothed_cross_entropy",
            "--label-smoothing",
            "0.0",
            "--optimizer",
            "adam",
            "--lr",
            "1e-3",
            "--batch-size",
            "6",
            "--max-update",
            "8",
            "--seed",
            "1",
            "--validate-interval",
            "2",
            "--save-interval",
            "2",
            "--best-checkpoint-metric",
            "snli_score",
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


def test_training_lowers_the_loss_and_selects_by_snli_score(trained):
    losses = [float(loss) for _, loss in EPOCH_LOSS.findall(trained["log"])]
    assert len(losses) == 4, trained["log"][-3000:]
    assert losses[-1] < 0.9 * losses[0], losses
    assert re.search(r"valid on 'valid' subset .*\| snli_score [\d.]+", trained["log"])
    assert "best_snli_score" in trained["log"]


def test_evaluation_writes_one_of_three_answers_and_accuracy(trained, repo_root):
    results = trained["root"] / "results"
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
            "4",
            "--cpu",
        ],
        cwd=repo_root,
        log_path=trained["root"] / "eval.log",
    )
    predictions = json.loads((results / "predictions.json").read_text())
    rows = trained["data"]["valid_rows"]
    assert [p["uniq_id"] for p in predictions] == [r[0] for r in rows]
    assert all(p["answer"] in ("yes", "no", "maybe") for p in predictions), predictions
    assert [p["label"] for p in predictions] == [LABEL_ANSWER[r[5]] for r in rows]
    scores = json.loads((results / "scores.json").read_text())
    accuracy = sum(p["answer"] == LABEL_ANSWER[r[5]] for p, r in zip(predictions, rows)) / len(rows)
    assert scores["n"] == len(rows) and scores["snli_score"] == pytest.approx(accuracy, abs=1e-6)
