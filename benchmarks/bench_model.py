"""Model speed/memory benchmark (BENCHMARKS.md §6).

    python benchmarks/bench_model.py                # the four research workloads, CPU fp32
    python benchmarks/bench_model.py --all          # + 384/480 px and batch 1/2/4 variants
    python benchmarks/bench_model.py --quick        # unival_tiny, 64 px, 1 repeat (CI smoke)
    python benchmarks/bench_model.py --plain        # the plain (unoptimised) code path
    python benchmarks/bench_model.py --no-dropout   # dropout / drop-path 0 (less work)
    python benchmarks/bench_model.py --workloads demo_step   # the demo's training update
    python benchmarks/bench_model.py --device cuda --dtype bf16

The model is built with the research code's caption stage-1 regularisation (dropout 0.1,
encoder/decoder drop-path 0.1) so that it does the same work as the reference;
``--no-dropout`` turns both off. Each workload runs in a fresh subprocess (``--worker``) so
that its peak RSS (``ru_maxrss``) is its own; the parent prints one table row per workload
(median, min and max seconds of ``--repeats`` calls after the warm-up calls, 2 for a train
step and 1 for beam search unless ``--warmup`` says, peak RSS, tokens/s, achieved TFLOP/s
and, on GPU, model FLOPs utilisation). ``--json`` writes every result. The research code is
timed beside this one, on the same machine, by refbench's ``side_by_side.sh``.

``demo_step`` is one update of ``make demo``'s base stage (``bench_workloads.run_demo_steps``):
its own recipe (``unival_tiny``, 64 px, the stage's dropout, batch, criterion and Adam), real
data loading from a small toy world, through fairseq's trainer; it prints updates/s (timed
updates over their total time, which is what the demo's wall clock sees: an update's cost
varies with its batch) and the losses of the first updates.
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
AUTOCAST = {"fp32": None, "bf16": "bfloat16", "fp16": "float16"}
PROFILE_CALLS = 3


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--workloads", help="comma list, e.g. train_b2_384,beam_b1_480 or demo_step"
    )
    parser.add_argument("--all", action="store_true", help="add the batch/size variants")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="unival_tiny at 64 px, 1 repeat after the warm-ups (smoke test)",
    )
    parser.add_argument("--arch", default=None, help="default unival_base (quick: unival_tiny)")
    parser.add_argument("--vocab", type=int, default=59457)
    parser.add_argument(
        "--repeats", type=int, default=None, help="timed calls (default 5; demo_step 20)"
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=None,
        help="untimed calls (default: 2 for train steps and demo_step, 1 for beam search)",
    )
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument(
        "--dtype",
        default="fp32",
        choices=sorted(AUTOCAST),
        help="autocast dtype (CPU: fp32 only is sensible here)",
    )
    parser.add_argument(
        "--plain",
        action="store_true",
        help="UNIVAL_PLAIN_PATH=1 (demo_step: also --use-old-adam, fairseq's looped Adam, and "
        "no tokenizer cache)",
    )
    parser.add_argument(
        "--no-dropout",
        action="store_true",
        help="dropout and drop-path 0 (default: the research stage-1 0.1 / 0.1)",
    )
    parser.add_argument(
        "--channels-last",
        action="store_true",
        help="image backbone weights and input channels-last (the CPU fast path lays out inputs)",
    )
    parser.add_argument("--checkpoint-activations", action="store_true")
    parser.add_argument("--flops", action="store_true", help="count FLOPs (one extra call)")
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help=f"train/beam workloads: torch.profiler over {PROFILE_CALLS} more calls; the op "
        "table (by self GPU time on CUDA) goes to DIR, the top ops to the JSON",
    )
    parser.add_argument(
        "--losses", type=int, default=10, help="demo_step: losses of the first N updates"
    )
    parser.add_argument("--json", help="write all results to this file")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.arch is None:
        args.arch = "unival_tiny" if args.quick else "unival_base"
    if args.profile and args.workloads and "demo_step" in args.workloads.split(","):
        parser.error("--profile takes train and beam workloads, not demo_step")
    return args


def repeats_and_warmup(args, name: str):
    """``(timed calls, untimed calls)`` of workload ``name``: the flags, else its defaults."""
    from bench_workloads import DEMO_STEP, WARMUP

    kind = "train" if name == DEMO_STEP else name.split("_")[0]
    default = 20 if name == DEMO_STEP else 5
    repeats = args.repeats if args.repeats is not None else (1 if args.quick else default)
    warmup = args.warmup if args.warmup is not None else WARMUP.get(kind, 1)
    return repeats, warmup


def model_overrides(args) -> dict:
    """Model options of the train/beam workloads: the research stage-1 dropout and drop-path
    unless ``--no-dropout``; activation checkpointing when asked."""
    from bench_workloads import STAGE1_DROPOUT

    overrides = {} if args.no_dropout else dict(STAGE1_DROPOUT)
    if args.checkpoint_activations:
        overrides["checkpoint_activations"] = True
    return overrides


def write_profile(args, fn, device) -> dict:
    """The op table of ``PROFILE_CALLS`` more calls in ``--profile``'s folder; the top ops
    for the JSON."""
    from bench_workloads import profile_calls

    table, ops = profile_calls(fn, PROFILE_CALLS, device)
    folder = Path(args.profile)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{args.worker}{'-plain' if args.plain else ''}-{args.dtype}.txt"
    path.write_text(table)
    return {"profile": str(path), "profile_calls": PROFILE_CALLS, "top_ops": ops[:15]}


def run_demo_worker(args, repeats: int, warmup: int) -> dict:
    """``demo_step``: updates/s of the demo's base stage on a small toy world."""
    import statistics
    import tempfile

    from bench_workloads import demo_trainer, demo_world, run_demo_steps

    with tempfile.TemporaryDirectory() as tmp:
        world = demo_world(Path(tmp) / "world", warmup + max(repeats, args.losses))
        # the plain path also takes fairseq's looped Adam, as before the fused CPU step, and
        # BPE-encodes every text anew, as before the tokenizer's cache
        if args.plain:
            import unival.tokenizer

            unival.tokenizer.TEXT_CACHE_SIZE = 0
        demo = demo_trainer(world, Path(tmp) / "save", ["--use-old-adam"] if args.plain else [])
        run = run_demo_steps(demo, warmup, max(repeats, args.losses - warmup))
    times = run.times[:repeats]
    return {
        "median_s": statistics.median(times),
        "mean_s": statistics.mean(times),
        "min_s": min(times),
        "max_s": max(times),
        # the demo's wall clock is the sum of its updates, and their cost varies with the
        # batch (how many distinct pictures it holds): the rate is over the total time
        "updates_per_s": len(times) / sum(times),
        "cpu_s": statistics.median(run.cpu[:repeats]),
        "losses": run.losses[: args.losses],
        "arch": demo.cfg.model._name,
        "batch": demo.cfg.dataset.batch_size,
        "image_size": demo.cfg.task.patch_image_size,
        "num_workers": demo.cfg.dataset.num_workers,
        "argv": demo.argv,
    }


def run_worker(args) -> dict:
    """Build the model, run one workload, return its figures (this process's peak RSS)."""
    import torch
    from bench_workloads import (
        DEMO_STEP,
        Workload,
        beam_fn,
        build,
        count_flops,
        make_batch,
        summarise,
        time_calls,
        train_step_fn,
    )

    from unival.models.perf import fast_paths_enabled, freed_memory_kept, set_fast_paths

    if args.plain:
        set_fast_paths(False)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    repeats, warmup = repeats_and_warmup(args, args.worker)
    if args.worker == DEMO_STEP:
        result = run_demo_worker(args, repeats, warmup)
    else:
        work = Workload.parse(args.worker)
        overrides = model_overrides(args)
        model = build(args.arch, args.vocab, device, args.channels_last, **overrides)
        batch = make_batch(model, work, device, args.channels_last)
        autocast = AUTOCAST[args.dtype]
        autocast = getattr(torch, autocast) if autocast else None
        fn = (train_step_fn if work.kind == "train" else beam_fn)(model, batch, autocast)
        flops = count_flops(fn) if args.flops else 0.0
        times = time_calls(fn, repeats, warmup, device)
        result = summarise(times, work, flops, device, args.dtype)
        result.update(arch=args.arch, dropout=not args.no_dropout)
        if args.profile:
            result.update(write_profile(args, fn, device))
    result["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    result.update(
        workload=args.worker,
        device=args.device,
        dtype=args.dtype,
        plain=not fast_paths_enabled(),  # the path the model actually ran
        heap_kept=freed_memory_kept(),  # glibc's heap keeps freed tensors (perf.keep_freed_memory)
        threads=args.threads,
        repeats=repeats,
        warmup=warmup,
    )
    return result


def spawn(args, name: str) -> dict:
    """Run ``name`` in a fresh interpreter and parse its JSON line."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", name, "--arch", args.arch]
    cmd += ["--vocab", str(args.vocab), "--threads", str(args.threads), "--device", args.device]
    cmd += ["--dtype", args.dtype, "--losses", str(args.losses)]
    for flag in ("repeats", "warmup", "profile"):
        if getattr(args, flag) is not None:
            cmd += ["--" + flag, str(getattr(args, flag))]
    for flag in (
        "quick",
        "plain",
        "no_dropout",
        "channels_last",
        "checkpoint_activations",
        "flops",
    ):
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
    extra = ""
    if "updates_per_s" in r:  # demo_step
        losses = " ".join(f"{x:.4f}" for x in r["losses"])
        rate = f"{r['updates_per_s']:6.2f} upd/s"
        extra = f"  CPU {r['cpu_s']:.3f} s/update  losses: {losses}"
        tflops = "      -"
    else:
        rate = f"{r['tokens_per_s']:9.1f}  "
        tflops = f"{r['tflops_per_s'] * 1e3:7.1f}" if r["flops"] else "      -"
    if r.get("mfu") is not None:
        extra = f"  MFU {100 * r['mfu']:.1f}%  GPU mem {r['peak_gpu_mem_gb']:.2f} GB"
    return (
        f"{r['workload']:<14} {r['median_s']:8.3f} {r['min_s']:8.3f} {r['max_s']:8.3f} "
        f"{r['peak_rss_gb']:8.2f} {rate} {tflops}  {r['warmup']:>6}{extra}"
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
    drop = "dropout/drop-path 0" if args.no_dropout else "dropout 0.1, drop-path 0.1"
    print(
        f"# {args.arch} {args.device} {args.dtype} {path} path, {drop}, {args.threads} "
        "threads; median of the timed calls after the warm-ups (demo_step: its own recipe, "
        "updates/s over the total time)"
    )
    print(
        f"{'workload':<14} {'median_s':>8} {'min_s':>8} {'max_s':>8} {'rss_GB':>8} "
        f"{'tokens/s':>9}   {'GFLOP/s':>7}  {'warmup':>6}"
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
