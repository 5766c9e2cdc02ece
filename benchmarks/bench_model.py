"""Model speed/memory benchmark against the research code (BENCHMARKS.md §6).

    python benchmarks/bench_model.py                # the four research workloads, CPU fp32
    python benchmarks/bench_model.py --all          # + 384/480 px and batch 1/2/4 variants
    python benchmarks/bench_model.py --quick        # unival_tiny, 64 px, 1 repeat (CI smoke)
    python benchmarks/bench_model.py --plain        # the plain (unoptimised) code path
    python benchmarks/bench_model.py --device cuda --dtype bf16

Each workload runs in a fresh subprocess (``--worker``) so that its peak RSS
(``ru_maxrss``) is its own; the parent prints one table row per workload (median, min and
max seconds of ``--repeats`` calls after ``--warmup`` calls, peak RSS, tokens/s, achieved
TFLOP/s and, on GPU, model FLOPs utilisation). ``--json`` writes every result.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESEARCH = ["train_b2_384", "train_b4_480", "beam_b1_480", "beam_b4_480"]
VARIANTS = [
    "train_b1_384",
    "train_b1_480",
    "train_b2_480",
    "train_b4_384",
    "beam_b1_384",
    "beam_b2_480",
    "beam_b4_384",
]
QUICK = ["train_b2_64", "beam_b1_64", "beam_b2_64"]
#: The research code on the 2-core CPU (measured once): seconds and peak RSS (GB).
RESEARCH_CPU = {
    "train_b2_384": (1.84, 3.2),
    "train_b4_480": (5.62, 5.3),
    "beam_b1_480": (1.86, None),
    "beam_b4_480": (6.18, None),
}
AUTOCAST = {"fp32": None, "bf16": "bfloat16", "fp16": "float16"}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", help="comma list, e.g. train_b2_384,beam_b1_480")
    parser.add_argument("--all", action="store_true", help="add the batch/size variants")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="unival_tiny at 64 px, 1 warm-up + 1 repeat (smoke test)",
    )
    parser.add_argument("--arch", default=None, help="default unival_base (quick: unival_tiny)")
    parser.add_argument("--vocab", type=int, default=59457)
    parser.add_argument("--repeats", type=int, default=None, help="timed calls (default 5)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed calls (default 1)")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument(
        "--dtype",
        default="fp32",
        choices=sorted(AUTOCAST),
        help="autocast dtype (CPU: fp32 only is sensible here)",
    )
    parser.add_argument("--plain", action="store_true", help="UNIVAL_PLAIN_PATH=1")
    parser.add_argument(
        "--channels-last", action="store_true", help="image backbone in channels-last memory format"
    )
    parser.add_argument("--checkpoint-activations", action="store_true")
    parser.add_argument("--flops", action="store_true", help="count FLOPs (one extra call)")
    parser.add_argument("--json", help="write all results to this file")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.arch is None:
        args.arch = "unival_tiny" if args.quick else "unival_base"
    if args.repeats is None:
        args.repeats = 1 if args.quick else 5
    if args.warmup is None:
        args.warmup = 1
    return args


def run_worker(args) -> dict:
    """Build the model, run one workload, return its figures (this process's peak RSS)."""
    import torch
    from bench_workloads import (
        Workload,
        beam_fn,
        build,
        count_flops,
        make_batch,
        summarise,
        time_calls,
        train_step_fn,
    )

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    work = Workload.parse(args.worker)
    overrides = {}
    if args.checkpoint_activations:
        overrides["checkpoint_activations"] = True
    model = build(args.arch, args.vocab, device, args.channels_last, **overrides)
    batch = make_batch(model, work, device, args.channels_last)
    autocast = AUTOCAST[args.dtype]
    autocast = getattr(torch, autocast) if autocast else None
    fn = (train_step_fn if work.kind == "train" else beam_fn)(model, batch, autocast)
    flops = count_flops(fn) if args.flops else 0.0
    times = time_calls(fn, args.repeats, args.warmup, device)
    result = summarise(times, work, flops, device, args.dtype)
    result["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    result.update(
        workload=args.worker,
        arch=args.arch,
        device=args.device,
        dtype=args.dtype,
        plain=args.plain,
        threads=args.threads,
        repeats=args.repeats,
    )
    return result


def spawn(args, name: str) -> dict:
    """Run ``name`` in a fresh interpreter and parse its JSON line."""
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        name,
        "--arch",
        args.arch,
        "--vocab",
        str(args.vocab),
        "--repeats",
        str(args.repeats),
        "--warmup",
        str(args.warmup),
        "--threads",
        str(args.threads),
        "--device",
        args.device,
        "--dtype",
        args.dtype,
    ]
    for flag in ("channels_last", "checkpoint_activations", "flops"):
        if getattr(args, flag):
            cmd.append("--" + flag.replace("_", "-"))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(HERE), str(HERE.parent / "fairseq_plugins"), env.get("PYTHONPATH")) if p
    )
    if args.plain:
        env["UNIVAL_PLAIN_PATH"] = "1"
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"workload {name} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise SystemExit(f"workload {name} printed no result:\n{proc.stdout[-2000:]}")
    return json.loads(lines[-1])


def format_row(r: dict) -> str:
    research = RESEARCH_CPU.get(r["workload"]) if r["device"] == "cpu" else None
    speedup = f"{research[0] / r['median_s']:.2f}x" if research else "-"
    extra = ""
    if r.get("mfu") is not None:
        extra = f"  MFU {100 * r['mfu']:.1f}%  GPU mem {r['peak_gpu_mem_gb']:.2f} GB"
    tflops = f"{r['tflops_per_s'] * 1e3:7.1f}" if r["flops"] else "      -"
    return (
        f"{r['workload']:<14} {r['median_s']:8.3f} {r['min_s']:8.3f} {r['max_s']:8.3f} "
        f"{r['peak_rss_gb']:8.2f} {r['tokens_per_s']:9.1f} {tflops}  {speedup:>7}{extra}"
    )


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.worker:
        print(json.dumps(run_worker(args)), flush=True)
        return 0
    if args.workloads:
        names = args.workloads.split(",")
    elif args.quick:
        names = QUICK
    else:
        names = RESEARCH + (VARIANTS if args.all else [])
    path = "plain" if args.plain else "optimised"
    print(
        f"# {args.arch} {args.device} {args.dtype} {path} path, {args.threads} threads, "
        f"median of {args.repeats} after {args.warmup} warm-up"
    )
    print(
        f"{'workload':<14} {'median_s':>8} {'min_s':>8} {'max_s':>8} {'rss_GB':>8} "
        f"{'tokens/s':>9} {'GFLOP/s':>7}  {'vs research':>7}"
    )
    results = []
    for name in names:
        result = spawn(args, name)
        results.append(result)
        print(format_row(result), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
