"""``unival merge sweep`` from the shell on two random toy caption checkpoints.

Random models caption every image with a made-up word, so the test first asks ``unival eval``
(in this process) what A and B predict on a placeholder TSV, then writes the validation TSV
with A's predictions as the references of two rows and B's as those of the third: both models
score a non-zero CIDEr-D there, and differently. The sweep runs as a real
``.venv/bin/unival`` process; its rows are checked against direct ``unival eval`` runs.
"""

import csv
import json
import struct

import pytest
import torch
from helpers import BIN, run_logged
from PIL import Image

from unival.commands import eval as evaluate
from unival.data.io.image import encode_image_base64
from unival.safe_load import load_checkpoint_file
from unival.testing.toy_checkpoint import write_toy_checkpoint

EVAL_OPTIONS = ["--cpu", "--beam", "2", "--max-len-b", "5", "--batch-size", "3"]
COLOURS = ((200, 20, 20), (20, 200, 20), (20, 20, 200))
FC = "encoder.layers.0.fc1.weight"


def _write_tsv(path, references):
    """Caption rows (uniq id, image id, "&&"-joined references, -, base64 image)."""
    rows = [
        [
            f"c{i}",
            str(i),
            "&&".join(refs),
            "",
            encode_image_base64(Image.new("RGB", (40 + 8 * i, 32), c)),
        ]
        for i, (c, refs) in enumerate(zip(COLOURS, references))
    ]
    path.write_text("".join("\t".join(row) + "\n" for row in rows))
    return path


def _eval(checkpoint, data, results):
    """``unival eval`` in this process: (captions in row order, scores)."""
    assert (
        evaluate.main(
            [str(checkpoint), "--data", str(data), "--results-path", str(results), *EVAL_OPTIONS]
        )
        == 0
    )
    records = json.loads((results / "predictions.json").read_text())
    return [r["caption"] for r in records], json.loads((results / "scores.json").read_text())


def _rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def _is_png(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", f"{path} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width > 100 and height > 100 and data[-8:-4] == b"IEND"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep")
    a = write_toy_checkpoint(root / "a", "caption", layout="fairseq", seed=1)
    b = write_toy_checkpoint(root / "b", "caption", layout="fairseq", seed=2)
    placeholder = _write_tsv(root / "placeholder.tsv", [["a red circle"]] * 3)
    captions_a, _ = _eval(a, placeholder, root / "direct_a0")
    captions_b, _ = _eval(b, placeholder, root / "direct_b0")
    assert all(captions_a) and captions_a != captions_b, (captions_a, captions_b)
    valid = _write_tsv(root / "valid.tsv", [[captions_a[0]], [captions_a[1]], [captions_b[2]]])
    _, scores_a = _eval(a, valid, root / "direct_a")
    return dict(
        root=root,
        a=a,
        b=b,
        valid=valid,
        captions_a=captions_a,
        captions_b=captions_b,
        cider_a=scores_a["cider"],
    )


def _sweep(world, log_name, *args, evaluation="caption"):
    root = world["root"]
    return run_logged(
        [
            BIN / "unival",
            "merge",
            "sweep",
            *args,
            "--eval",
            f"{evaluation}={world['valid']}",
            "--eval-args",
            "all=" + " ".join(EVAL_OPTIONS),
        ],
        root,
        root / log_name,
        timeout=240,
    )


def test_interpolation_sweep_writes_rows_checkpoints_and_plot(world):
    root = world["root"]
    log = _sweep(
        world,
        "interpolate.log",
        world["a"],
        world["b"],
        "--lambdas",
        "0,0.5,1",
        "--out-dir",
        "out",
        "--name",
        "ab",
    )
    assert log.splitlines()[-2:] == ["out/ab_sweep.csv", "out/ab_sweep.png"]  # stdout: the outputs
    rows = _rows(root / "out" / "ab_sweep.csv")
    assert [
        (r["method"], float(r["lambda"]), r["task"], r["metric"], r["checkpoint"]) for r in rows
    ] == [
        ("interpolate", 0.0, "caption", "cider", "out/ab_l0.00.pt"),
        ("interpolate", 0.5, "caption", "cider", "out/ab_l0.50.pt"),
        ("interpolate", 1.0, "caption", "cider", "out/ab_l1.00.pt"),
    ]
    # lambda = 1 is A: the same CIDEr as `unival eval A`, which is non-zero on this TSV
    assert world["cider_a"] > 0 and float(rows[2]["value"]) == world["cider_a"]
    # lambda = 0 is B: B's captions (which differ from A's) and B's score
    predicted = {
        lam: [
            r["caption"]
            for r in json.loads(
                (root / "out" / "eval" / f"ab_l{lam}" / "caption" / "predictions.json").read_text()
            )
        ]
        for lam in ("0.00", "1.00")
    }
    assert predicted == {"0.00": world["captions_b"], "1.00": world["captions_a"]}
    assert float(rows[0]["value"]) != world["cider_a"]
    half = load_checkpoint_file(root / "out" / "ab_l0.50.pt")
    weights_a, weights_b = (load_checkpoint_file(world[k])["model"][FC] for k in ("a", "b"))
    assert torch.allclose(half["model"][FC], 0.5 * weights_a + 0.5 * weights_b, rtol=0, atol=1e-6)
    assert half["extra_state"]["merge"]["hyperparameters"]["lam"] == 0.5
    assert _is_png(root / "out" / "ab_sweep.png")


def test_task_arithmetic_sweep_with_a_labelled_evaluation_deletes_its_checkpoints(world):
    root = world["root"]
    _sweep(
        world,
        "task_arithmetic.log",
        world["a"],
        "--method",
        "task-arithmetic",
        "--base",
        world["b"],
        "--scales",
        "0,1",
        "--metric",
        "caption.bleu=bleu4",
        "--out-dir",
        "ta",
        "--work-dir",
        "ta_ckpt",
        "--delete-checkpoints",
        "--name",
        "ta",
        evaluation="caption.bleu",
    )
    rows = _rows(root / "ta" / "ta_sweep.csv")
    assert [
        (r["method"], float(r["lambda"]), r["task"], r["metric"], r["checkpoint"]) for r in rows
    ] == [
        ("task-arithmetic", 0.0, "caption.bleu", "bleu4", "ta_ckpt/ta_s0.00.pt"),
        ("task-arithmetic", 1.0, "caption.bleu", "bleu4", "ta_ckpt/ta_s1.00.pt"),
    ]
    assert not list((root / "ta_ckpt").glob("*.pt"))  # deleted after evaluation
    results = {
        lam: root / "ta" / "eval" / f"ta_s{lam}" / "caption.bleu" for lam in ("0.00", "1.00")
    }
    for row, lam in zip(rows, results):  # each value is the metric of that evaluation's scores.json
        assert (
            float(row["value"]) == json.loads((results[lam] / "scores.json").read_text())["bleu4"]
        )
    # scale 0 is the base, B: B's captions
    predictions = json.loads((results["0.00"] / "predictions.json").read_text())
    assert [r["caption"] for r in predictions] == world["captions_b"]
    assert _is_png(root / "ta" / "ta_sweep.png")
