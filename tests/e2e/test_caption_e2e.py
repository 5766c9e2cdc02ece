"""Caption end to end through the commands a user types: fairseq-train -> unival eval ->
fairseq-generate.

A tiny TSV of solid-colour PNG squares ("a red square", ...) trains ``unival_tiny`` for a few
dozen updates on CPU with CIDEr-based checkpoint selection; the evaluation command then writes
predictions and scores for the test file, and fairseq-generate decodes the same file.
"""

import json
import re
import sys
from pathlib import Path

import pytest
from PIL import Image

from unival.data.io.image import encode_image_base64
from unival.tokenizer import build_dictionary_from_texts, load_gpt2_bpe

pytestmark = pytest.mark.slow  # about 1.5 minutes on 2 CPU cores

from caption_scores import assert_scores_match  # noqa: E402
from helpers import BIN, run_logged  # noqa: E402


def run(cmd, cwd, log_path, timeout=420):
    return run_logged(cmd, cwd, log_path, timeout)


COLOURS = {
    "red": (220, 20, 20),
    "green": (20, 200, 20),
    "blue": (20, 20, 220),
    "yellow": (230, 230, 20),
}
EPOCH_LOSS = re.compile(r"\| train \| epoch (\d+) \| loss ([\d.]+)")


def write_caption_data(root: Path) -> dict:
    """train.tsv (16 rows), valid.tsv and test.tsv (4 rows, "&&" references), dict.txt."""

    def image(colour):
        return encode_image_base64(Image.new("RGB", (32, 32), colour))

    def write(name, rows):
        (root / name).write_text("".join("\t".join(r) + "\n" for r in rows))
        return root / name

    # columns: uniq_id, image_id, caption, object labels (unused), image
    train = [
        [f"t{i}", str(i), f"a {name} square", "", image(c)]
        for i, (name, c) in enumerate(list(COLOURS.items()) * 4)
    ]
    evaluation = [
        [f"v{i}", str(200 + i), f"a {name} square&&{name} square", "", image(c)]
        for i, (name, c) in enumerate(COLOURS.items())
    ]
    texts = (
        [" what does the image describe?"]
        + [f" a {n} square" for n in COLOURS]
        + [f" {n} square" for n in COLOURS]
    )
    build_dictionary_from_texts(texts, load_gpt2_bpe(), save_path=root / "dict.txt")
    return {
        "train": write("train.tsv", train),
        "valid": write("valid.tsv", evaluation),
        "test": write("test.tsv", evaluation),
    }


@pytest.fixture(scope="module")
def trained(tmp_path_factory, repo_root):
    if not (BIN / "fairseq-train").exists():
        pytest.skip(f"fairseq-train is not installed beside {sys.executable}")
    root = tmp_path_factory.mktemp("caption_e2e")
    data = write_caption_data(root)
    save_dir = root / "checkpoints"
    log = run(
        [
            BIN / "fairseq-train",
            f"{data['train']},{data['valid']}",
            "--user-dir",
            repo_root / "fairseq_plugins" / "unival",
            "--task",
            "caption",
            "--arch",
            "unival_tiny",
            "--selected-cols",
            "0,4,2",
            "--patch-image-size",
            "64",
            "--criterion",
            "adjust_label_smoothed_cross_entropy",
            "--label-smoothing",
            "0.1",
            "--optimizer",
            "adam",
            "--lr",
            "5e-4",
            "--batch-size",
            "4",
            "--max-update",
            "24",
            "--seed",
            "1",
            "--eval-cider",
            "--eval-bleu",
            "--eval-args",
            '{"beam":2,"max_len_b":8}',
            "--best-checkpoint-metric",
            "cider",
            "--maximize-best-checkpoint-metric",
            # fairseq lists --data as directories to look for stray valid files; ours are TSV files
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
            "4",
        ],
        cwd=repo_root,
        log_path=root / "train.log",
    )
    return {"root": root, "data": data, "checkpoint": save_dir / "checkpoint_best.pt", "log": log}


def test_training_lowers_the_loss_and_selects_by_cider(trained):
    losses = [float(loss) for _, loss in EPOCH_LOSS.findall(trained["log"])]
    assert len(losses) == 6, trained["log"][-3000:]
    assert losses[-1] < 0.85 * losses[0], losses
    assert re.search(r"valid on 'valid' subset .*\| cider [\d.]+ \| bleu4 [\d.]+", trained["log"])
    assert "best_cider" in trained["log"]
    assert trained["checkpoint"].is_file()


def test_evaluation_command_writes_predictions_and_scores(trained, repo_root):
    results = trained["root"] / "results"
    run(
        [
            sys.executable,
            "-m",
            "unival.commands.eval",
            trained["checkpoint"],
            "--data",
            trained["data"]["test"],
            "--selected-cols",
            "1,4,2",
            "--beam",
            "2",
            "--max-len-b",
            "8",
            "--batch-size",
            "3",
            "--results-path",
            results,
            "--cpu",
        ],
        cwd=repo_root,
        log_path=trained["root"] / "eval.log",
    )
    predictions = json.loads((results / "predictions.json").read_text())
    assert sorted(p["image_id"] for p in predictions) == [200, 201, 202, 203]
    assert all(isinstance(p["caption"], str) for p in predictions)
    scores = json.loads((results / "scores.json").read_text())
    assert scores["n"] == 4 and scores["nskipped"] == 0
    # the scores are those of the written captions against the test file's references
    assert_scores_match(
        scores, results / "predictions.json", trained["data"]["test"], id_column=1, caption_column=2
    )


def test_fairseq_generate_decodes_the_test_file(trained, repo_root):
    log = run(
        [
            BIN / "fairseq-generate",
            trained["data"]["test"],
            "--user-dir",
            repo_root / "fairseq_plugins" / "unival",
            "--task",
            "caption",
            "--path",
            trained["checkpoint"],
            "--gen-subset",
            "test",
            "--selected-cols",
            "1,4,2",
            "--patch-image-size",
            "64",
            "--beam",
            "2",
            "--max-len-b",
            "8",
            "--batch-size",
            "3",
            "--cpu",
        ],
        cwd=repo_root,
        log_path=trained["root"] / "generate.log",
    )
    hypotheses = re.findall(r"^D-(\d+)\t\S+\t(.*)$", log, flags=re.M)
    assert sorted(int(i) for i, _ in hypotheses) == [0, 1, 2, 3]
    assert "Translated 4 sentences" in log
