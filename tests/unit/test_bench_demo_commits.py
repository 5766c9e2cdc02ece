"""benchmarks/bench_demo_commits.py: two commits train the older commit's demo workload, and
runs whose losses part are reported as different workloads."""

import json
import subprocess
import sys


def run_commits(repo_root, tmp_path, *flags):
    out = tmp_path / "runs.json"
    script = repo_root / "benchmarks" / "bench_demo_commits.py"
    command = [sys.executable, str(script), "--old", "HEAD", "--pairs", "1", "--repeats", "1"]
    proc = subprocess.run(
        command + ["--threads", "1", "--json", str(out)] + list(flags),
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )  # fmt: skip
    return proc, json.loads(out.read_text()) if out.exists() else None


def worktrees(repo_root):
    listing = subprocess.run(["git", "-C", str(repo_root), "worktree", "list", "--porcelain"],
                             capture_output=True, text=True, check=True).stdout  # fmt: skip
    return {line for line in listing.splitlines() if line.startswith("worktree ")}


def test_both_commits_train_the_old_workload(repo_root, tmp_path):
    before = worktrees(repo_root)
    proc, runs = run_commits(repo_root, tmp_path, "--plain")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert [line.split()[2] for line in proc.stdout.splitlines()[:3]] == ["old", "new", "plain"]
    losses = [run["losses"] for kind in ("old", "new", "plain") for run in runs["runs"][kind]]
    assert len(losses) == 3 and len(losses[0]) == 3  # 2 warm-ups and 1 timed update
    assert all(abs(a - b) < 1e-4 for other in losses[1:] for a, b in zip(losses[0], other))
    assert 8.0 < losses[0][0] < 10.0  # a freshly built model's loss over the demo's dictionary
    assert worktrees(repo_root) == before  # the checkout of HEAD is gone again


def test_a_different_workload_is_reported(repo_root, tmp_path):
    proc, runs = run_commits(repo_root, tmp_path, "--new-argv=--lr=0.05")
    assert proc.returncode == 1
    assert "did not train the same workload" in proc.stdout
    old, new = runs["runs"]["old"][0]["losses"], runs["runs"]["new"][0]["losses"]
    assert old[0] == new[0] and abs(old[2] - new[2]) > 1e-3  # the learning rate shows at once
