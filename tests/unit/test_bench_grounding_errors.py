"""benchmarks/grounding_errors.py joins predictions, test rows and scenes (hand-made files)."""

import json
import subprocess
import sys

import pytest

SCENES = {
    "image_size": 64,
    "scenes": [
        {
            "image_id": "1",
            "image_size": 64,
            "objects": [
                {"box": [0, 0, 10, 10], "size": "small"},
                {"box": [20, 0, 30, 10], "size": "big"},
            ],
        },
        {"image_id": "2", "image_size": 64, "objects": [{"box": [40, 40, 60, 60], "size": "big"}]},
    ],
}
# uniq_id, image_id, text, region, image (never decoded here)
ROWS = [
    ("u1", "1", "the small shape", "0,0,10,10"),
    ("u2", "1", "the big shape", "20,0,30,10"),
    ("u3", "2", "the big shape", "40,40,60,60"),
]
PREDICTIONS = [
    {"uniq_id": "u1", "box": [0, 0, 10, 10], "gt": [0, 0, 10, 10]},  # on the target
    {"uniq_id": "u2", "box": [0, 0, 10, 10], "gt": [20, 0, 30, 10]},  # on the other shape
    {"uniq_id": "u3", "box": [0, 0, 10, 10], "gt": [40, 40, 60, 60]},  # on nothing
]


def run(repo_root, tmp_path, predictions):
    (tmp_path / "scenes.json").write_text(json.dumps(SCENES))
    (tmp_path / "test.tsv").write_text("".join("\t".join(r) + "\tIMG\n" for r in ROWS))
    (tmp_path / "pred.json").write_text(json.dumps(predictions))
    cmd = [sys.executable, str(repo_root / "benchmarks" / "grounding_errors.py")]
    cmd += ["--predictions", str(tmp_path / "pred.json"), "--test-tsv", str(tmp_path / "test.tsv")]
    cmd += ["--scenes", str(tmp_path / "scenes.json"), "--json", str(tmp_path / "out.json")]
    cmd += ["--num-bins", "1000", "--max-image-size", "512", "--patch-image-size", "64"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def test_report_of_three_hand_made_rows(repo_root, tmp_path):
    proc = run(repo_root, tmp_path, PREDICTIONS)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads((tmp_path / "out.json").read_text())
    assert out["placement"] == pytest.approx({"target": 1 / 3, "other": 1 / 3, "none": 1 / 3})
    # 999 / 512 bins per px: 10 -> 20, 20 -> 39, 30 -> 59, 40 -> 78, 60 -> 117; pred bins
    # (0, 0, 20, 20) minus truth: u2 (-39, 0, -39, 0), u3 (-78, -78, -97, -97)
    assert out["coordinate_errors_bins"]["x0"] == pytest.approx(
        {"mean_abs": 39.0, "median_abs": 39.0, "bias": -39.0}
    )
    assert out["coordinate_errors_bins"]["y1"] == pytest.approx(
        {"mean_abs": 97 / 3, "median_abs": 0.0, "bias": -97 / 3}
    )
    assert out["coordinate_errors_px"]["x1"]["bias"] == pytest.approx(-(20 + 50) / 3)
    assert out["distinct_boxes"]["distinct"] == 1
    assert out["acc"] == pytest.approx(1 / 3)
    assert out["by_target_size"]["small"]["acc"] == 1.0
    assert out["by_target_size"]["big"]["acc"] == 0.0
    # scene 1 holds 2 disjoint shapes (1/2), scene 2 one (1/1)
    assert out["baselines"]["random object of the scene"] == pytest.approx((0.5 + 0.5 + 1) / 3)
    assert "| x0 |" in proc.stdout


def test_a_prediction_of_another_file_is_one_line(repo_root, tmp_path):
    proc = run(repo_root, tmp_path, PREDICTIONS + [{"uniq_id": "u9", "box": [0, 0, 1, 1]}])
    assert proc.returncode == 2
    errors = [line for line in proc.stderr.splitlines() if line.startswith("grounding_errors:")]
    assert len(errors) == 1 and "uniq_id u9 is not in" in errors[0]
    assert "Traceback" not in proc.stderr
