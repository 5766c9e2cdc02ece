"""The launchers of ``run_scripts/lib/launch.sh`` (torchrun, SLURM) rendered with DRY_RUN=1.

The printed torchrun line must wrap the same fairseq-train command the local launcher prints
(parsed with fairseq's parser), plus the backend flags; the per-rank flags come from
``lib/torchrun_worker.sh``. The SLURM launcher prints the sbatch line of ``lib/slurm.sbatch``,
and the template, run as SLURM would run it on a node, renders the torchrun command of that node.
"""

import os
import shlex
import subprocess
from pathlib import Path

import pytest
from test_run_scripts import RUN_SCRIPTS, SCRIPTS, machine, parse_command, render, rendered_argv  # noqa: F401

LIB = RUN_SCRIPTS / "lib"
TRAIN_SCRIPTS = [p for p in SCRIPTS if p.name == "train.sh" or p.parent.name == "pretraining"]


def split_torchrun(argv):
    """(torchrun options, worker argv) of a rendered torchrun line."""
    assert Path(argv[0]).name == "torchrun", argv[:3]
    cut = argv.index("--no-python")
    assert argv[cut + 1 : cut + 3] == ["bash", str(LIB / "torchrun_worker.sh")], argv[cut : cut + 3]
    return argv[1:cut], argv[cut + 3 :]


@pytest.mark.parametrize("script", TRAIN_SCRIPTS, ids=lambda p: str(p.relative_to(RUN_SCRIPTS)))
def test_torchrun_wraps_the_local_command_on_cpu(script, machine):  # noqa: F811
    pinned = {**machine, "BATCH_SIZE": "4", "UPDATE_FREQ": "1"}  # else the world size changes them
    local = rendered_argv(script, pinned)
    argv = rendered_argv(script, {**pinned, "LAUNCHER": "torchrun", "NPROC_PER_NODE": "2"})
    options, inner = split_torchrun(argv)
    assert options == ["--nnodes=1", "--nproc-per-node=2", "--standalone"]
    assert inner == local + ["--distributed-backend=gloo", "--ddp-backend=legacy_ddp"]
    _, args = parse_command(inner)
    assert (args.distributed_backend, args.ddp_backend, args.cpu) == ("gloo", "legacy_ddp", True)


def test_torchrun_multi_node_nccl(machine):  # noqa: F811
    env = {
        **machine,
        "DEVICE": "gpu",
        "LAUNCHER": "torchrun",
        "NPROC_PER_NODE": "8",
        "NNODES": "2",
        "MASTER_ADDR": "node17",
        "NODE_RANK": "1",
    }
    options, inner = split_torchrun(rendered_argv(RUN_SCRIPTS / "vqa" / "train.sh", env))
    assert options == [
        "--nnodes=2",
        "--nproc-per-node=8",
        "--node-rank=1",
        "--master-addr=node17",
        "--master-port=29500",
    ]
    _, args = parse_command(inner)
    # the authors' no_c10d: a parameter without gradient (an unused encoder) cannot stall it
    assert args.distributed_backend == "nccl" and args.ddp_backend == "legacy_ddp"
    assert args.fp16 and not args.cpu and args.task == "vqa_gen"
    # the node rank defaults to SLURM's node id; a user's backend flag replaces the default one
    env = {k: v for k, v in env.items() if k != "NODE_RANK"}
    options, inner = split_torchrun(
        rendered_argv(
            RUN_SCRIPTS / "vqa" / "train.sh", {**env, "SLURM_NODEID": "3"}, "--ddp-backend=no_c10d"
        )
    )
    assert "--node-rank=3" in options and parse_command(inner)[1].ddp_backend == "no_c10d"


def test_torchrun_refusals(machine):  # noqa: F811
    env = {**machine, "LAUNCHER": "torchrun", "NPROC_PER_NODE": "2"}
    proc = render(RUN_SCRIPTS / "caption" / "train.sh", env, "--distributed-rank=1")
    assert proc.returncode == 2 and "--distributed-rank is set per rank" in proc.stderr
    proc = render(RUN_SCRIPTS / "caption" / "eval.sh", env)
    assert proc.returncode == 2 and "runs only fairseq-train on several processes" in proc.stderr
    proc = render(RUN_SCRIPTS / "caption" / "train.sh", {**env, "NNODES": "2"})
    assert proc.returncode == 2 and "needs MASTER_ADDR" in proc.stderr
    proc = render(RUN_SCRIPTS / "caption" / "train.sh", {**env, "NPROC_PER_NODE": "two"})
    assert proc.returncode == 2 and "positive integers" in proc.stderr
    # one process: evaluation runs as it would locally
    local = rendered_argv(RUN_SCRIPTS / "caption" / "eval.sh", machine)
    assert (
        rendered_argv(RUN_SCRIPTS / "caption" / "eval.sh", {**env, "NPROC_PER_NODE": "1"}) == local
    )


def test_worker_adds_the_rank_flags(tmp_path):
    """The worker appends this rank's flags to the program it runs (printf shows the argv)."""
    env = dict(
        os.environ, RANK="3", LOCAL_RANK="1", WORLD_SIZE="4", MASTER_ADDR="h", MASTER_PORT="1"
    )
    out = subprocess.run(
        ["bash", str(LIB / "torchrun_worker.sh"), "printf", "%s\\n", "fairseq-train", "--cpu"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out == [
        "fairseq-train",
        "--cpu",
        "--distributed-world-size=4",
        "--distributed-rank=3",
        "--device-id=1",
        "--distributed-init-method=env://",
        "--distributed-no-spawn",
    ]
    env.pop("RANK")
    proc = subprocess.run(
        ["bash", str(LIB / "torchrun_worker.sh"), "true"], env=env, capture_output=True, text=True
    )
    assert proc.returncode == 2 and "RANK is not set" in proc.stderr


@pytest.mark.parametrize("script", ["caption/train.sh", "vqa/eval.sh", "pretraining/stage2.sh"])
def test_slurm_submits_the_script_with_its_arguments(script, machine):  # noqa: F811
    env = {
        **machine,
        "LAUNCHER": "slurm",
        "NNODES": "2",
        "SBATCH_ARGS": "--partition=gpu --time=24:00:00",
    }
    del env["DEVICE"]  # auto: GPU nodes
    argv = rendered_argv(RUN_SCRIPTS / script, env, "--patience=3")
    assert Path(argv[0]).name == "sbatch"
    name = "unival-" + script.replace("/", "-").removesuffix(".sh")
    assert argv[1:] == [
        f"--job-name={name}",
        "--nodes=2",
        "--ntasks-per-node=1",
        "--gpus-per-node=8",
        "--partition=gpu",
        "--time=24:00:00",
        str(LIB / "slurm.sbatch"),
        str(RUN_SCRIPTS / script),
        "--patience=3",
    ]
    # the command is checked before submitting: a repeated flag never reaches sbatch
    proc = render(RUN_SCRIPTS / script, env, "--patience=3", "--patience=4")
    assert proc.returncode == 2 and "given twice" in proc.stderr


def test_slurm_template_runs_the_script_on_every_node(machine):  # noqa: F811
    """What the job does: srun one task per node; node 0's command is the torchrun line."""
    env = {
        **machine,
        "SLURM_JOB_NUM_NODES": "2",
        "SLURM_GPUS_ON_NODE": "4",
        "MASTER_ADDR": "gpu-a01",
        "DEVICE": "gpu",
    }
    script = str(RUN_SCRIPTS / "caption" / "train.sh")
    proc = subprocess.run(
        ["bash", str(LIB / "slurm.sbatch"), script, "--patience=3"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    srun, node0 = proc.stdout.splitlines()
    assert shlex.split(srun) == [
        "srun",
        "--nodes=2",
        "--ntasks-per-node=1",
        "--kill-on-bad-exit=1",
        "bash",
        script,
        "--patience=3",
    ]
    options, inner = split_torchrun(shlex.split(node0))
    assert options == [
        "--nnodes=2",
        "--nproc-per-node=4",
        "--node-rank=0",
        "--master-addr=gpu-a01",
        "--master-port=29500",
    ]
    _, args = parse_command(inner)
    assert args.patience == 3 and args.distributed_backend == "nccl" and args.fp16
    proc = subprocess.run(
        ["bash", str(LIB / "slurm.sbatch"), "no/such/train.sh"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "no run script 'no/such/train.sh'" in proc.stderr
