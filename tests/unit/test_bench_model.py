"""benchmarks/bench_model.py runs (quick mode) and reports consistent figures."""

import json
import os
import subprocess
import sys


def test_quick_benchmark_prints_and_writes_each_workload(repo_root, tmp_path):
    out = tmp_path / "bench.json"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [
            sys.executable,
            str(repo_root / "benchmarks" / "bench_model.py"),
            "--quick",
            "--workloads",
            "train_b2_64,beam_b1_64",
            "--threads",
            "1",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [line.split()[0] for line in proc.stdout.splitlines()[2:]]
    assert rows == ["train_b2_64", "beam_b1_64"]
    results = json.loads(out.read_text())
    for result, tokens in zip(results, (2 * 40, 1 * 20)):
        assert result["arch"] == "unival_tiny" and result["device"] == "cpu"
        assert result["min_s"] <= result["median_s"] <= result["max_s"]
        assert abs(result["tokens_per_s"] - tokens / result["median_s"]) < 1e-6
        assert 0.1 < result["peak_rss_gb"] < 8  # measured in the worker process
        assert result["plain"] is False
