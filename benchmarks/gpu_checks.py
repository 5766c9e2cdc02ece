"""The GPU checks of BENCHMARKS.md §6h, in one run on one CUDA GPU.

    python benchmarks/gpu_checks.py --out OUT                      # every step until --deadline-s
    python benchmarks/gpu_checks.py --out OUT --steps machine,train,profile   # MFU and op tables
    python benchmarks/gpu_checks.py --out OUT --steps train,beam   # a subset
    # the full demo profile (about 13 minutes) in two calls of under 10 minutes:
    python benchmarks/gpu_checks.py --out OUT --steps demo --demo-time-scale 1 \
        --demo-stages multitask
    python benchmarks/gpu_checks.py --out OUT --steps demo --demo-time-scale 1 --demo-stages media

Steps (each in its own process with a time limit, so one failure does not stop the rest):

- ``machine``: GPU name, torch and CUDA versions, and the bf16 rate of an 8192^3 matmul
  (median of 10 after 3 warm-ups), the ceiling the train step's MFU is also given against;
- ``train``: ``bench_model.py`` bf16 train steps of ``unival_base`` at 480 px (the research
  stage-1 dropout/drop-path), counted FLOPs, TFLOP/s and MFU against the datasheet peak;
- ``beam``: ``bench_model.py`` beam-5 captioning of batches of 384 px images in bf16: images/s;
- ``profile``: where a bf16 train step (32 images, 480 px) and a beam-5 call (64 images,
  384 px) spend their GPU time, fast and plain path (``bench_model.py --profile``: the op
  tables go to ``OUT/profiles/``, the top ops by self GPU time to the JSON);
- ``precision``: ``run_scripts/caption/train.sh`` (``unival_base`` from scratch, 480 px,
  micro-batches of 16, two per update) for 50 updates on toy-world captions with
  ``PRECISION=bf16`` and ``fp16``, the two runs side by side: every logged loss must be finite
  and each run must reach update 50;
- ``demo``: ``python -m unival.demo --device gpu --time-scale F`` (``make demo``'s GPU profile,
  every training's updates and cap times F), multitask and media stages (``--demo-stages``:
  ``multitask`` in one call, ``media`` in the next, for runs longer than one device call).

Writes ``OUT/gpu_checks.json`` (every figure), ``OUT/gpu_checks.log`` (the steps' output),
``OUT/demo_report.json`` and ``OUT/demo.log``; the demo's own files go to ``--work``.
"""

import argparse
import contextlib
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
STEPS = ("machine", "train", "beam", "profile", "precision", "demo")
#: what each step runs on the GPU, and at toy size with ``--cpu-check``
SIZES = {
    "gpu": {
        "device": "cuda",
        "train": "train_b32_480,train_b64_480",
        "beam": "beam_b64_384,beam_b256_384",
        "profile": "train_b32_480,beam_b64_384",
        "bench_args": ["--dtype", "bf16", "--threads", "8"],
        "updates": 50,
        "precisions": ("bf16", "fp16"),
        "global_batch": "32",  # 2 micro-batches of the script's 16 per update
        "caption_env": {"DEVICE": "gpu", "NUM_WORKERS": "4"},
        "demo_args": ["--device", "gpu"],
    },
    "cpu": {
        "device": "cpu",
        "train": "train_b2_64",
        "beam": "beam_b2_64",
        "profile": "train_b2_64,beam_b2_64",
        "bench_args": ["--quick"],
        "updates": 4,
        "precisions": ("bf16", "fp32"),
        "global_batch": "8",
        "caption_env": {
            "DEVICE": "cpu",
            "ARCH": "unival_tiny",
            "PATCH_IMAGE_SIZE": "64",
            "BATCH_SIZE": "4",
            "LOG_INTERVAL": "1",
            "IMAGE_ENCODER": "",
            "RESNET_TYPE": "",
        },
        "demo_args": ["--device", "cpu", "--smoke", "--parallel-experts", "3"],
    },
}
#: ``train_inner`` line of fairseq's simple log: loss and update count
INNER = re.compile(r"\| train_inner \|.* loss=([^,\s]+),.* num_updates=(\d+)")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="results folder")
    parser.add_argument("--work", default="/tmp/unival_gpu_checks", help="scratch folder")
    parser.add_argument("--steps", default=",".join(STEPS), help=f"comma list of {STEPS}")
    parser.add_argument(
        "--demo-time-scale", type=float, default=0.2, help="the demo's --time-scale (1: ~15 min)"
    )
    parser.add_argument(
        "--demo-stages",
        default="multitask,media",
        help="the demo's --stages; 'media' alone continues an earlier 'multitask' call in --work "
        "(the full profile, about 13 min, needs two device calls of at most 10 min)",
    )
    parser.add_argument(
        "--cpu-check",
        action="store_true",
        help="run every step on the CPU at toy size (checks this script, measures nothing)",
    )
    parser.add_argument(
        "--deadline-s", type=float, default=540, help="stop every step by then (from the start)"
    )
    return parser.parse_args(argv)


class Run:
    """The steps' shared state: the deadline, the log file and the results."""

    def __init__(self, args):
        self.args = args
        self.start = time.monotonic()
        self.out = Path(args.out)
        self.work = Path(args.work)
        self.out.mkdir(parents=True, exist_ok=True)
        self.work.mkdir(parents=True, exist_ok=True)
        self.log = open(self.out / "gpu_checks.log", "a")
        self.size = SIZES["cpu" if args.cpu_check else "gpu"]
        self.results = {"argv": sys.argv[1:], "started": time.strftime("%Y-%m-%d %H:%M:%S %Z")}

    def left(self) -> float:
        return self.args.deadline_s - (time.monotonic() - self.start)

    def say(self, message: str) -> None:
        line = f"{time.strftime('%H:%M:%S')} | gpu_checks | {message}"
        print(line, flush=True)
        self.log.write(line + "\n")
        self.log.flush()

    def call(self, cmd, limit: float, env=None, log_path=None) -> subprocess.CompletedProcess:
        """Run ``cmd`` for at most ``min(limit, time left)`` seconds (then its whole process
        group is killed: exit 124); its output goes to the log (and to ``log_path``)."""
        limit = max(1.0, min(limit, self.left()))
        self.say(f"$ {' '.join(map(str, cmd))}  (limit {limit:.0f} s)")
        proc = subprocess.Popen(
            cmd,
            env={**os.environ, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=REPO,
            start_new_session=True,  # the run scripts' fairseq-train children go with it
        )
        try:
            output, _ = proc.communicate(timeout=limit)
            code = proc.returncode
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            output, _ = proc.communicate()
            code = 124
        self.log.write(output[-20000:] + "\n")
        self.log.flush()
        if log_path:
            Path(log_path).write_text(output)
        self.say(f"exit {code}")
        return subprocess.CompletedProcess(cmd, code, output, "")

    def save(self) -> None:
        self.results["seconds"] = round(time.monotonic() - self.start, 1)
        (self.out / "gpu_checks.json").write_text(json.dumps(self.results, indent=1) + "\n")


def step_machine(run: Run) -> dict:
    """GPU name, versions, and the measured bf16 matmul rate (TFLOP/s)."""
    import torch

    props = torch.cuda.get_device_properties(0)
    n = 8192
    a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    times = []
    for i in range(13):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        a @ b
        end.record()
        torch.cuda.synchronize()
        if i >= 3:
            times.append(start.elapsed_time(end) / 1e3)
    times.sort()
    return {
        "gpu": props.name,
        "memory_gb": round(props.total_memory / 2**30, 1),
        "capability": f"{props.major}.{props.minor}",
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "python": sys.version.split()[0],
        "bf16_matmul_tflops": round(2 * n**3 / times[len(times) // 2] / 1e12, 1),
    }


def bench(run: Run, workloads: str, limit: float, extra=()) -> list:
    """``bench_model.py --device cuda --dtype bf16`` on ``workloads``; one result per workload
    that finished (each runs in its own process, so they are called one at a time)."""
    results = []
    for name in workloads.split(","):
        path = run.work / f"{name}.json"
        cmd = [sys.executable, str(HERE / "bench_model.py"), "--device", run.size["device"]]
        cmd += run.size["bench_args"] + ["--workloads", name, "--json", str(path)]
        proc = run.call(cmd + list(extra), limit)
        if proc.returncode == 0 and path.exists():
            results += json.loads(path.read_text())
        else:
            results.append({"workload": name, "failed": proc.returncode})
    return results


def step_train(run: Run) -> list:
    results = bench(run, run.size["train"], 90, ["--flops", "--repeats", "10"])
    peak = run.results.get("machine", {}).get("bf16_matmul_tflops")
    for r in results:
        if peak and r.get("tflops_per_s"):
            r["of_measured_matmul"] = round(r["tflops_per_s"] / peak, 3)
    return results


def step_beam(run: Run) -> list:
    results = bench(run, run.size["beam"], 90, ["--repeats", "5"])
    for r in results:
        if "median_s" in r:
            r["images_per_s"] = round(int(r["workload"].split("_")[1][1:]) / r["median_s"], 1)
    return results


def step_profile(run: Run) -> list:
    """Op tables of the fast and the plain path, one workload at a time."""
    results = []
    for plain in (False, True):
        extra = ["--profile", str(run.out / "profiles"), "--repeats", "3"]
        results += bench(run, run.size["profile"], 90, extra + (["--plain"] if plain else []))
    return results


def toy_captions(run: Run) -> Path:
    """A toy world with about 1,000 caption rows (so 50 updates stay inside one epoch)."""
    world = run.work / "world"
    if not (world / "caption_train.tsv").exists():
        sys.path.insert(0, str(REPO / "fairseq_plugins"))
        from unival.toy_world.build import ToyWorldConfig, build_toy_world

        build_toy_world(str(world), ToyWorldConfig(num_train=1000, num_valid=20, num_test=2))
    return world


def loss_check(output: str) -> dict:
    """Losses of the ``train_inner`` lines: finite?, the last update reached."""
    rows = [(m.group(1), int(m.group(2))) for m in INNER.finditer(output)]
    losses = [float(x) for x, _ in rows]
    return {
        "losses": losses,
        "last_update": rows[-1][1] if rows else 0,
        "all_finite": bool(losses) and all(math.isfinite(x) for x in losses),
        "overflows": output.count("gradient overflow detected"),
        "done": "done training" in output,
    }


def step_precision(run: Run) -> dict:
    """``caption/train.sh`` once per precision, the runs side by side (their speed is not
    measured, only that every loss is finite up to the last update)."""
    world = toy_captions(run)
    updates = run.size["updates"]

    def train(precision: str) -> dict:
        save = run.work / f"caption_{precision}"
        shutil.rmtree(save, ignore_errors=True)
        env = {
            **run.size["caption_env"],
            "PRECISION": precision,
            "GLOBAL_BATCH": run.size["global_batch"],
            "TRAIN_DATA": str(world / "caption_train.tsv"),
            "VALID_DATA": str(world / "caption_valid.tsv"),
            "DICT_PATH": str(world / "dict.txt"),
            "INIT_CHECKPOINT": "scratch",
            "SAVE_DIR": str(save),
            "MAX_UPDATE": str(updates),
            "PYTHONUNBUFFERED": "1",
        }
        env.setdefault("LOG_INTERVAL", "5")
        script = REPO / "run_scripts" / "caption" / "train.sh"
        started = time.monotonic()
        proc = run.call(["bash", str(script), "--no-save", "--disable-validation"], 150, env)
        check = loss_check(proc.stdout)
        check.update(exit=proc.returncode, seconds=round(time.monotonic() - started, 1))
        check["ok"] = (
            proc.returncode == 0 and check["all_finite"] and check["last_update"] == updates
        )
        return check

    precisions = run.size["precisions"]
    with ThreadPoolExecutor(max_workers=len(precisions)) as pool:
        return dict(zip(precisions, pool.map(train, precisions)))


def step_demo(run: Run) -> dict:
    work = run.work / "demo"
    stages = run.args.demo_stages
    if "multitask" in stages.split(","):  # else: continue the earlier call's multitask stage
        shutil.rmtree(work, ignore_errors=True)
    cmd = [sys.executable, "-m", "unival.demo", *run.size["demo_args"], "--out", str(work)]
    cmd += ["--time-scale", str(run.args.demo_time_scale), "--stages", stages]
    paths = [str(REPO / "fairseq_plugins"), os.environ.get("PYTHONPATH", "")]
    env = {"PYTHONPATH": os.pathsep.join(p for p in paths if p)}
    proc = run.call(cmd, run.left() - 5, env, log_path=run.out / "demo.log")
    report = work / "report.json"
    if report.exists():
        shutil.copy(report, run.out / "demo_report.json")
    logs = run.out / "demo_logs"  # what each training and evaluation printed, if it stopped early
    for path in work.glob("*/*.log"):
        (logs / path.parent.name).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, logs / path.parent.name / path.name)
    scores = {  # every expert evaluated, also in a stage the deadline stopped
        f"{path.parents[2].name}/{path.parents[1].name}": json.loads(path.read_text())
        for path in sorted(work.glob("*/*/eval/scores.json"))
    }
    return {"exit": proc.returncode, "report": report.exists(), "scores": scores}


def main(argv=None) -> int:
    args = parse_args(argv)
    steps = [s for s in args.steps.split(",") if s]
    unknown = set(steps) - set(STEPS)
    if unknown:
        raise SystemExit(f"unknown steps {sorted(unknown)}; known: {', '.join(STEPS)}")
    run = Run(args)
    if args.cpu_check:
        steps = [s for s in steps if s != "machine"]
    for name in steps:
        if run.left() < 10:
            run.results[name] = {"skipped": "deadline"}
            continue
        run.say(f"step {name} ({run.left():.0f} s left)")
        try:
            run.results[name] = globals()[f"step_{name}"](run)
        except Exception as error:  # one broken step must not lose the others' figures
            run.results[name] = {"error": f"{type(error).__name__}: {error}"}
            run.say(f"step {name} failed: {error!r}")
        run.save()
    run.say(json.dumps(run.results)[:4000])
    return 0


if __name__ == "__main__":
    sys.exit(main())
