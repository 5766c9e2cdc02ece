"""RefCOCO grounding end to end: fairseq-train (with Acc@0.5 validation) -> unival eval.

A tiny TSV of black images with one coloured square ("the red square", ...) trains
``unival_tiny`` for 8 updates on CPU; validation generates boxes and logs ``score``;
the evaluation command then writes one 4-number box per row and the accuracy.
"""

import json
import re
import sys
from pathlib import Path

import pytest
from helpers import BIN, run_logged  # noqa: E402
from PIL import Image, ImageDraw

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
EPOCH_LOSS = re.compile(r"\| train \| epoch (\d+) \| loss ([\d.]+)")


def write_refcoco_data(root: Path) -> dict:
    """train.tsv (8 rows), valid.tsv (4 rows) with columns uniq_id, image_id, text, region,
    image."""

    def row(i, name, colour, box):
        img = Image.new("RGB", (48, 40), (0, 0, 0))
        ImageDraw.Draw(img).rectangle([box[0], box[1], box[2] - 1, box[3] - 1], fill=colour)
        region = ",".join(str(c) for c in box)
        return [f"g{i}", str(i), f"the {name} square", region, encode_image_base64(img)]

    boxes = [(4, 4, 20, 20), (24, 10, 44, 30), (10, 20, 30, 36), (30, 2, 46, 18)]
    items = list(COLOURS.items())
    train = [row(i, *items[i % 4], boxes[(i + i // 4) % 4]) for i in range(8)]
    valid = [row(100 + i, *items[i], boxes[i]) for i in range(4)]
    texts = [f' which region does the text " the {n} square " describe?' for n in COLOURS]
    build_dictionary_from_texts(texts, load_gpt2_bpe(), save_path=root / "dict.txt")
    paths = {}
    for name, rows in (("train", train), ("valid", valid)):
        paths[name] = root / f"{name}.tsv"
        paths[name].write_text("".join("\t".join(r) + "\n" for r in rows))
    return paths


@pytest.fixture(scope="module")
def trained(tmp_path_factory, repo_root):
    if not (BIN / "fairseq-train").exists():
        pytest.skip(f"fairseq-train is not installed beside {sys.executable}")
    root = tmp_path_factory.mktemp("refcoco_e2e")
    data = write_refcoco_data(root)
    save_dir = root / "checkpoints"
    log = run(
        [
            BIN / "fairseq-train",
            f"{data['train']},{data['valid']}",
            "--user-dir",
            repo_root / "fairseq_plugins" / "unival",
            "--task",
            "refcoco",
            "--arch",
            "unival_tiny",
            "--selected-cols",
            "0,4,2,3",
            "--patch-image-size",
            "64",
            "--criterion",
            "adjust_label_smoothed_cross_entropy",
            "--label-smoothing",
            "0.1",
            "--optimizer",
            "adam",
            "--lr",
            "1e-3",
            "--batch-size",
            "4",
            "--max-update",
            "8",
            "--seed",
            "1",
            "--eval-acc",
            "--eval-args",
            '{"beam":2,"min_len":4,"max_len_a":0,"max_len_b":4}',
            "--best-checkpoint-metric",
            "score",
            "--maximize-best-checkpoint-metric",
            "--ignore-unused-valid-subsets",
            "--validate-interval",
            "2",
            "--save-dir",
            save_dir,
            "--no-epoch-checkpoints",
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


def test_training_lowers_the_loss_and_validates_by_accuracy(trained):
    losses = [float(loss) for _, loss in EPOCH_LOSS.findall(trained["log"])]
    assert len(losses) == 4, trained["log"][-3000:]
    assert losses[-1] < losses[0], losses
    assert re.search(
        r"valid on 'valid' subset .*\| score [\d.]+ \| miou [\d.]+ \| acc@0.5 [\d.]+",
        trained["log"],
    )
    assert "best_score" in trained["log"] and trained["checkpoint"].is_file()


def test_evaluation_command_writes_boxes_and_accuracy(trained, repo_root):
    results = trained["root"] / "results"
    run(
        [
            sys.executable,
            "-m",
            "unival.commands.eval",
            trained["checkpoint"],
            "--data",
            trained["data"]["valid"],
            "--beam",
            "2",
            "--min-len",
            "4",
            "--max-len-b",
            "4",
            "--no-repeat-ngram-size",
            "0",
            "--batch-size",
            "3",
            "--acc-thresh",
            "0.5,0.25",
            "--results-path",
            results,
            "--cpu",
        ],
        cwd=repo_root,
        log_path=trained["root"] / "eval.log",
    )
    records = json.loads((results / "predictions.json").read_text())
    assert [r["uniq_id"] for r in records] == ["g100", "g101", "g102", "g103"]
    for record in records:
        assert len(record["box"]) == 4 and all(isinstance(c, float) for c in record["box"])
        # bins span [0, 512] in the 64-px image, i.e. at most 512 / (64 / 48) = 384 original pixels
        assert all(-1e-6 <= c <= 384 + 1e-6 for c in record["box"][0::2])
    assert records[0]["gt"] == [4, 4, 20, 20]
    scores = json.loads((results / "scores.json").read_text())
    assert scores["n"] == 4 and scores["nskipped"] == 0
    assert (
        0 <= scores["acc@0.5"] <= scores["acc@0.25"] <= 1 and scores["score"] == scores["acc@0.5"]
    )
