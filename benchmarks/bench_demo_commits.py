"""The demo's base update (``demo_step``) of two commits of this repository, on one workload.

    python benchmarks/bench_demo_commits.py --old 99ee4cc                 # against the tree
    python benchmarks/bench_demo_commits.py --old 99ee4cc --new 1170730 --pairs 5
    python benchmarks/bench_demo_commits.py --old 99ee4cc --new-argv=--num-workers=0

``bench_model.py --workloads demo_step`` times the demo's recipe of the commit it runs from,
and that recipe changes with the code (a grounding stream, the loader's settings), so two
commits' own figures compare two workloads. Here both commits train on the *old* commit's
workload: its toy world, built once, and its rendered ``fairseq-train`` arguments, with the
plugin of the commit being timed (``--user-dir``). ``--new-argv`` appends arguments for the
newer commit only (later flags win), e.g. the loader settings its own recipe uses instead;
``--plain`` adds a run of the newer commit's plain path (``UNIVAL_PLAIN_PATH=1``, fairseq's
looped Adam, no tokenizer cache). Each run is a fresh process and the commits alternate, so
the machine's drift falls on both. The losses of the first updates must agree to four
decimals, or the two commits did not train the same thing and the script says so (exit 1).

A commit other than the working tree is checked out with ``git worktree`` into a temporary
folder; the older commit must have ``benchmarks/bench_workloads.py`` with ``demo_trainer``
(99ee4cc, where ``demo_step`` was added, or later).
"""

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PLACEHOLDERS = {"world": "@WORLD@", "save": "@SAVE@", "user_dir": "@USERDIR@"}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", help="the commit whose workload both train (required)")
    parser.add_argument("--new", help="the commit to compare (default: the working tree)")
    parser.add_argument("--new-argv", default="", help="arguments appended for --new only")
    parser.add_argument("--plain", action="store_true", help="also time --new's plain path")
    parser.add_argument("--pairs", type=int, default=3, help="alternations (default 3)")
    parser.add_argument("--repeats", type=int, default=60, help="timed updates per run")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", help="write every run here")
    parser.add_argument("--worker", nargs=4, metavar=("TREE", "WORLD", "ARGV", "OUT"),
                        help=argparse.SUPPRESS)  # fmt: skip
    parser.add_argument("--render", nargs=3, metavar=("TREE", "OUT", "UPDATES"),
                        help=argparse.SUPPRESS)  # fmt: skip
    args = parser.parse_args(argv)
    if not (args.worker or args.render or args.old):
        parser.error("--old COMMIT is required")
    return args


def tree_env(tree: Path) -> dict:
    """The environment that imports ``unival`` and the benchmarks from ``tree``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(tree / "fairseq_plugins"), str(tree / "benchmarks")])
    return env


def checkout(commit: str, into: Path) -> Path:
    subprocess.run(
        ["git", "-C", str(REPO), "worktree", "add", "--detach", str(into), commit],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return into


def old_workload(tree: Path, out: Path, updates: int) -> Path:
    """Build the old commit's toy world in ``out/world`` and write its rendered arguments, with
    the paths as placeholders, to ``out/argv.json`` (in a process that imports ``tree``)."""
    render = [sys.executable, __file__, "--render", str(tree), str(out), str(updates)]
    proc = subprocess.run(render, env=tree_env(tree), capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{tree}: rendering its demo workload failed:\n{proc.stderr[-3000:]}")
    return out / "argv.json"


def run_render(tree: Path, out: Path, updates: int) -> None:
    sys.path.insert(0, str(tree / "benchmarks"))  # ahead of this script's own folder
    import bench_workloads as bw

    world = bw.demo_world(out / "world", updates)
    argv = bw.demo_train_argv(world, out / "save")
    paths = {"world": world, "save": out / "save", "user_dir": tree / "fairseq_plugins/unival"}
    for key, mark in PLACEHOLDERS.items():
        argv = [a.replace(str(paths[key]), mark) for a in argv]
    (out / "argv.json").write_text(json.dumps(argv))


def this_checkouts_workloads():
    """This script's own ``bench_workloads`` module, loaded beside the tree's (which takes
    the name ``bench_workloads``)."""
    path = Path(__file__).resolve().parent / "bench_workloads.py"
    spec = importlib.util.spec_from_file_location("this_checkouts_bench_workloads", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_worker(tree: Path, world: Path, argv_file: Path, out: Path) -> None:
    """In a process that imports ``tree``'s code: set up the trainer on the fixed arguments
    and time ``--repeats`` updates after 2 warm-ups with ``tree``'s own loop."""
    sys.path.insert(0, str(tree / "benchmarks"))  # ahead of this script's own folder
    import bench_workloads as bw

    extra = json.loads(os.environ.get("DEMO_EXTRA_ARGV", "[]"))
    repeats = int(os.environ["DEMO_REPEATS"])
    if os.environ.get("UNIVAL_PLAIN_PATH"):
        import unival.tokenizer

        unival.tokenizer.TEXT_CACHE_SIZE = 0  # older trees have no cache: a no-op there
    template = json.loads(argv_file.read_text())

    def fixed_argv(_world, save_dir):
        values = {"world": world, "save": save_dir, "user_dir": tree / "fairseq_plugins/unival"}
        argv = list(template)
        for key, mark in PLACEHOLDERS.items():
            argv = [a.replace(mark, str(values[key])) for a in argv]
        return argv + extra

    bw.demo_train_argv = fixed_argv
    # logging as fairseq-train has it, in either tree: an older tree's import leaves fairseq's
    # DEBUG root handler in place (two lines per decoded picture), and may lack this function
    this_checkouts_workloads().fairseq_train_logging()
    with tempfile.TemporaryDirectory() as tmp:
        demo = bw.demo_trainer(world, Path(tmp) / "save")
        run = bw.run_demo_steps(demo, 2, repeats)
    out.write_text(json.dumps({"updates_per_s": len(run.times) / sum(run.times),
                               "median_s": statistics.median(run.times),
                               "losses": run.losses[:10]}))  # fmt: skip


def timed_run(tree: Path, world: Path, argv_file: Path, args, extra, plain=False) -> dict:
    env = tree_env(tree)
    env.update(OMP_NUM_THREADS=str(args.threads), DEMO_REPEATS=str(args.repeats),
               DEMO_EXTRA_ARGV=json.dumps(extra))  # fmt: skip
    if plain:
        env["UNIVAL_PLAIN_PATH"] = "1"
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        worker = [sys.executable, __file__, "--worker", str(tree), str(world), str(argv_file),
                  out.name]  # fmt: skip
        proc = subprocess.run(worker, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"{tree}: the timed run failed:\n{proc.stderr[-3000:]}")
        return json.loads(Path(out.name).read_text())


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.worker:
        import torch

        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
        run_worker(*(Path(p) for p in args.worker))
        return 0
    if args.render:
        run_render(Path(args.render[0]), Path(args.render[1]), int(args.render[2]))
        return 0
    sys.stdout.reconfigure(line_buffering=True)  # one line per run as it ends
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        trees = {"old": checkout(args.old, tmp / "old")}
        trees["new"] = checkout(args.new, tmp / "new") if args.new else REPO
        try:
            argv_file = old_workload(trees["old"], tmp, 2 + args.repeats)
            kinds = [("old", []), ("new", args.new_argv.split())]
            if args.plain:
                kinds.append(("plain", ["--use-old-adam"] + args.new_argv.split()))
            runs = {kind: [] for kind, _ in kinds}
            for pair in range(args.pairs):
                for kind, extra in kinds:
                    tree = trees["old" if kind == "old" else "new"]
                    result = timed_run(tree, tmp / "world", argv_file, args, extra, kind == "plain")
                    runs[kind].append(result)
                    losses = " ".join(f"{x:.4f}" for x in result["losses"])
                    speed = result["updates_per_s"]
                    print(f"pair {pair + 1} {kind:5s} {speed:6.2f} updates/s  losses {losses}")
        finally:
            for name in ("old", "new"):
                if trees[name] != REPO:
                    subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force",
                                    str(trees[name])], capture_output=True)  # fmt: skip
    medians = {k: statistics.median(r["updates_per_s"] for r in v) for k, v in runs.items()}
    for kind, value in medians.items():
        print(f"{kind:5s} median {value:.2f} updates/s ({value / medians['old']:.2f}x the old)")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "runs": runs}, indent=1))
    curves = {tuple(round(x, 4) for x in r["losses"]) for v in runs.values() for r in v}
    if len(curves) != 1:
        print("the runs' losses differ: the commits did not train the same workload")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
