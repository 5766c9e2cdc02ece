"""benchmarks/bench_model.py: the quick run, its defaults (stage-1 dropout, warm-ups, the path
recorded) and the demo_step workload (the demo's base-stage update through fairseq's trainer)."""

import argparse
import json
import math
import os
import subprocess
import sys

import pytest
import torch

BENCHMARKS = os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks")


def run_bench(repo_root, tmp_path, *flags):
    """Run bench_model.py with ``flags`` (1 thread); returns (stdout, the --json results)."""
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(repo_root / "benchmarks" / "bench_model.py"), "--threads", "1"]
        + list(flags)
        + ["--json", str(out)],
        capture_output=True,
        text=True,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout, json.loads(out.read_text())


def test_quick_benchmark_prints_and_writes_each_workload(repo_root, tmp_path):
    stdout, results = run_bench(
        repo_root, tmp_path, "--quick", "--workloads", "train_b2_64,beam_b1_64"
    )
    rows = [line.split()[0] for line in stdout.splitlines()[2:]]
    assert rows == ["train_b2_64", "beam_b1_64"]
    for result, tokens, warmup in zip(results, (2 * 40, 1 * 20), (2, 1)):
        assert result["arch"] == "unival_tiny" and result["device"] == "cpu"
        assert result["min_s"] <= result["median_s"] <= result["max_s"]
        assert abs(result["tokens_per_s"] - tokens / result["median_s"]) < 1e-6
        assert 0.1 < result["peak_rss_gb"] < 8  # measured in the worker process
        assert result["plain"] is False and result["dropout"] is True
        assert result["heap_kept"] is False  # only with UNIVAL_KEEP_FREED_MEMORY=1
        assert (result["warmup"], result["repeats"]) == (warmup, 1)


def test_plain_flag_is_recorded_and_profile_written(repo_root, tmp_path):
    flags = ["--quick", "--workloads", "beam_b1_64", "--plain", "--profile", str(tmp_path / "p")]
    _, results = run_bench(repo_root, tmp_path, *flags)
    assert results[0]["plain"] is True
    assert results[0]["heap_kept"] is False  # the plain path keeps glibc's defaults
    # --profile: the op table of 3 more calls, named by workload and path; the top ops by
    # self time, largest first, per profiled call
    table = (tmp_path / "p" / "beam_b1_64-plain-fp32.txt").read_text()
    assert results[0]["profile"] == str(tmp_path / "p" / "beam_b1_64-plain-fp32.txt")
    assert "aten::topk" in table and "Self CPU" in table  # the beam's candidate selection
    ops = results[0]["top_ops"]
    assert results[0]["profile_calls"] == 3 and len(ops) == 15
    assert [op["self_ms"] for op in ops] == sorted((op["self_ms"] for op in ops), reverse=True)
    assert ops[0]["self_ms"] > 0 and all(op["calls"] > 0 for op in ops)


def test_profile_refuses_demo_step(capsys):
    sys.path.insert(0, BENCHMARKS)
    try:
        import bench_model
    finally:
        sys.path.remove(BENCHMARKS)
    with pytest.raises(SystemExit):
        bench_model.parse_args(["--workloads", "demo_step", "--profile", "out"])
    assert "--profile takes train and beam workloads" in capsys.readouterr().err


def test_default_build_has_the_research_stage1_regularisation():
    """The research caption stage 1 trains with dropout 0.1 and drop-path 0.1 (rising to 0.1
    at the last layer); --no-dropout builds without either."""
    sys.path.insert(0, BENCHMARKS)
    try:
        import bench_model
        from bench_workloads import build
    finally:
        sys.path.remove(BENCHMARKS)
    for flags, rate in (([], 0.1), (["--no-dropout"], 0.0)):
        args = bench_model.parse_args(["--quick"] + flags)
        model = build(
            args.arch, 300, torch.device("cpu"), False, **bench_model.model_overrides(args)
        )
        for layers in (model.encoder.layers, model.decoder.layers):
            assert layers[0].drop_path.drop_prob == 0.0
            assert layers[-1].drop_path.drop_prob == pytest.approx(rate)
            assert {layer.dropout_module.p for layer in layers} == {rate}


def test_demo_step_runs_the_demo_base_recipe(repo_root, tmp_path):
    from unival.demo.multitask import MultitaskSettings

    stdout, results = run_bench(
        repo_root, tmp_path, "--workloads", "demo_step", "--warmup", "1", "--repeats", "2",
        "--losses", "3",
    )  # fmt: skip
    (result,) = results
    assert "demo_step" in stdout and "upd/s" in stdout
    settings = MultitaskSettings()
    assert result["arch"] == "unival_tiny"
    assert result["batch"] == settings.pretrain_batch_size
    assert result["image_size"] == settings.image_size
    assert result["num_workers"] == settings.num_workers
    assert "--optimizer=adam" in result["argv"] and "--task=unify_task" in result["argv"]
    assert any(a.startswith("--image-text-ground-data=") for a in result["argv"])  # as the demo
    assert (result["warmup"], result["repeats"]) == (1, 2)
    assert result["min_s"] <= result["median_s"] <= result["max_s"]
    assert result["min_s"] <= result["mean_s"] <= result["max_s"]
    assert result["updates_per_s"] == pytest.approx(1 / result["mean_s"])  # 2 / their sum
    assert len(result["losses"]) == 3 and all(math.isfinite(x) for x in result["losses"])


def test_demo_step_losses_repeat_at_the_same_seed(tmp_path):
    """Two set-ups on one world give the same loss curve (what a speed-up is checked with)."""
    sys.path.insert(0, BENCHMARKS)
    try:
        from bench_workloads import demo_trainer, demo_world, run_demo_steps
    finally:
        sys.path.remove(BENCHMARKS)
    world = demo_world(tmp_path / "world", 2)
    curves = [
        run_demo_steps(demo_trainer(world, tmp_path / f"save{i}"), 0, 2).losses for i in (0, 1)
    ]
    assert len(curves[0]) == 2 and curves[0] == curves[1]


def test_demo_step_plain_path_takes_fairseqs_looped_adam():
    """``--plain`` times the code before the speed-ups, fairseq's looped Adam included (which
    ``--use-old-adam`` keeps: ``tests/unit/optim/test_fused_cpu_adam.py``)."""
    sys.path.insert(0, BENCHMARKS)  # run_demo_worker imports bench_workloads when called
    try:
        from bench_model import run_demo_worker

        for plain in (False, True):
            args = argparse.Namespace(plain=plain, losses=1)
            result = run_demo_worker(args, repeats=1, warmup=0)
            assert ("--use-old-adam" in result["argv"]) is plain
    finally:
        sys.path.remove(BENCHMARKS)
