"""``python -m unival.commands.merge`` as a real subprocess on real fairseq checkpoint files."""

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from unival.safe_load import load_checkpoint_file

PLUGIN_ROOT = Path(__file__).resolve().parents[3] / "fairseq_plugins"
FC = "encoder.layers.0.fc1.weight"
EMBED = "decoder.output_projection.weight"


def run_merge(cwd, *args):
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(PLUGIN_ROOT), os.environ.get("PYTHONPATH", "")])
    )
    return subprocess.run(
        [sys.executable, "-m", "unival.commands.merge", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_interpolate_writes_one_file_per_lambda_and_a_manifest(tmp_path, checkpoint_pair):
    proc = run_merge(
        tmp_path,
        "interpolate",
        "A.pt",
        "B.pt",
        "--lambdas",
        "0,0.25,1",
        "--out-dir",
        "sweep",
        "--name",
        "ab",
    )
    assert proc.returncode == 0, proc.stderr
    expected = [
        "sweep/ab_l0.00.pt",
        "sweep/ab_l0.25.pt",
        "sweep/ab_l1.00.pt",
        "sweep/ab_manifest.json",
    ]
    assert proc.stdout.split() == expected
    assert "num_batches_tracked differs in B.pt; the output keeps the value of A.pt" in proc.stderr

    quarter = load_checkpoint_file(tmp_path / "sweep" / "ab_l0.25.pt")
    # 0.25 * A + 0.75 * B: fc [1, -1], [3, 1] -> [2.5, 0.5]
    assert torch.equal(quarter["model"][FC], torch.tensor([2.5, 0.5]))
    assert torch.equal(quarter["model"][EMBED], torch.tensor([[2.5, 0.5], [4.5, 7.0]]))
    assert quarter["extra_state"]["merge"]["hyperparameters"]["lam"] == 0.25
    assert quarter["cfg"]["task"] == {"_name": "caption"}
    assert torch.equal(
        load_checkpoint_file(tmp_path / "sweep" / "ab_l1.00.pt")["model"][FC],
        torch.tensor([1.0, -1.0]),
    )
    manifest = json.loads((tmp_path / "sweep" / "ab_manifest.json").read_text())
    assert [(c["lambda"], c["file"]) for c in manifest["checkpoints"]] == [
        (0.0, "ab_l0.00.pt"),
        (0.25, "ab_l0.25.pt"),
        (1.0, "ab_l1.00.pt"),
    ]


def test_weighted_average_of_ema_weights(tmp_path, checkpoint_pair):
    proc = run_merge(
        tmp_path,
        "average",
        "A.pt",
        "B.pt",
        "--weights",
        "0.75,0.25",
        "--ema",
        "--frozen-keys",
        "fc1",
        "--out",
        "avg.pt",
    )
    assert proc.returncode == 0, proc.stderr
    merged = load_checkpoint_file(tmp_path / "avg.pt")
    # EMA embeddings [[10, 20], [30, 40]] and [[30, 0], [50, 80]]; fc1 frozen -> A's EMA [5, 5]
    assert torch.equal(merged["model"][EMBED], torch.tensor([[15.0, 15.0], [35.0, 50.0]]))
    assert torch.equal(merged["model"][FC], torch.tensor([5.0, 5.0]))
    info = merged["extra_state"]["merge"]
    assert info["hyperparameters"]["weights"] == [0.75, 0.25]
    assert info["hyperparameters"]["frozen_key_patterns"] == ["fc1"]
    assert [i["weights"] for i in info["inputs"]] == ["ema", "ema"]
    assert "ema" not in merged["extra_state"]


def test_task_arithmetic_and_ties(tmp_path, write_checkpoint, tied_state):
    write_checkpoint(
        tmp_path / "base.pt", tied_state([[0.0, 0.0], [0.0, 0.0]], [1.0, 1.0, 1.0, 1.0])
    )
    write_checkpoint(
        tmp_path / "t1.pt", tied_state([[2.0, 0.0], [0.0, 0.0]], [4.0, 0.0, 1.5, -1.0])
    )
    write_checkpoint(
        tmp_path / "t2.pt", tied_state([[0.0, 4.0], [0.0, 0.0]], [-3.0, 3.0, 2.0, 0.0])
    )
    proc = run_merge(
        tmp_path,
        "task-arithmetic",
        "--base",
        "base.pt",
        "t1.pt",
        "t2.pt",
        "--scale",
        "0.5",
        "--out",
        "ta.pt",
    )
    assert proc.returncode == 0, proc.stderr
    ta = load_checkpoint_file(tmp_path / "ta.pt")
    # tau1 = [3, -1, 0.5, -2], tau2 = [-4, 2, 1, -1] -> base + 0.5 * [-1, 1, 1.5, -3]
    assert torch.equal(ta["model"][FC], torch.tensor([0.5, 1.5, 1.75, -0.5]))
    assert torch.equal(ta["model"][EMBED], torch.tensor([[1.0, 2.0], [0.0, 0.0]]))
    assert ta["extra_state"]["merge"]["inputs"][0]["role"] == "base"

    proc = run_merge(
        tmp_path,
        "ties",
        "--base",
        "base.pt",
        "t1.pt",
        "t2.pt",
        "--density",
        "0.5",
        "--trim-scope",
        "tensor",
        "--out",
        "ties.pt",
    )
    assert proc.returncode == 0, proc.stderr
    ties = load_checkpoint_file(tmp_path / "ties.pt")
    # trimmed fc: [3, 0, 0, -2], [-4, 2, 0, 0]; sums [-1, 2, 0, -2] -> means [-4, 2, 0, -2]
    assert torch.equal(ties["model"][FC], torch.tensor([-3.0, 3.0, 1.0, -1.0]))
    hyper = ties["extra_state"]["merge"]["hyperparameters"]
    assert (hyper["density"], hyper["scale"], hyper["trim_scope"]) == (0.5, 1.0, "tensor")


def test_errors_list_every_difference_and_outputs_are_never_overwritten(
    tmp_path, write_checkpoint, tied_state, checkpoint_pair
):
    write_checkpoint(tmp_path / "C.pt", tied_state([[1.0, 2.0, 3.0]], [1.0, 2.0, 3.0]))
    proc = run_merge(tmp_path, "average", "A.pt", "C.pt", "--out", "bad.pt")
    assert proc.returncode == 2
    for key in ("encoder.embed_tokens.weight", "decoder.embed_tokens.weight", EMBED, FC):
        assert f"{key}: shape differs: A.pt" in proc.stderr
    assert not (tmp_path / "bad.pt").exists()

    proc = run_merge(tmp_path, "average", "A.pt", "B.pt", "--out", "B.pt")
    assert proc.returncode == 2 and "output(s) exist: B.pt; pass --force" in proc.stderr

    proc = run_merge(
        tmp_path, "sweep", "A.pt", "B.pt", "--eval", "caption=missing.tsv", "--out-dir", "o"
    )
    assert proc.returncode == 2 and "--eval caption=missing.tsv: no such file" in proc.stderr
    assert not (tmp_path / "o").exists()
