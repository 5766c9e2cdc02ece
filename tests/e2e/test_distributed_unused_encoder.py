"""Two ranks train an image recipe whose video encoder gets no gradient, with the GPU launch's
DDP backend.

Image fine-tuning builds the video encoder too (it is part of the checkpoint) but an image batch
never reaches it. torch's DistributedDataParallel without ``find_unused_parameters`` stops at the
second update on such a model ("Expected to have finished reduction in the prior iteration");
the GPU launch of the run scripts therefore uses the authors' ``no_c10d`` backend (fairseq's
``legacy_ddp``). This test reads the backend from the rendered GPU command and trains
``caption/train.sh`` with it on 2 CPU ranks (gloo): both ranks must finish every update with
identical parameters, the unused video encoder included. A second test shows the failure the
backend avoids: the same model in torch's DDP on 2 gloo ranks stops at the second update.
"""

import json
import os
import shlex
import subprocess
from types import SimpleNamespace

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from helpers import free_port
from recipe_runs import (
    CAPTION_TRAIN,
    REPO_ROOT,
    inner_losses,
    run_recipe,
    tiny_recipe_env,
    write_caption_data,
)

from unival.compat import safe_torch_load

pytestmark = pytest.mark.slow  # about 45 s and 65 s on a shared 2-core CPU


def gpu_ddp_backend(env: dict) -> str:
    """The --ddp-backend of the 2-GPU torchrun command the caption recipe renders."""
    gpu_env = {
        **env,
        "DEVICE": "gpu",
        "LAUNCHER": "torchrun",
        "NPROC_PER_NODE": "2",
        "DRY_RUN": "1",
    }
    proc = subprocess.run(
        ["bash", str(CAPTION_TRAIN)],
        env=gpu_env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    backends = [
        a.split("=", 1)[1] for a in shlex.split(proc.stdout) if a.startswith("--ddp-backend=")
    ]
    assert len(backends) == 1, proc.stdout
    return backends[0]


def test_two_ranks_train_with_an_unused_video_encoder(tmp_path):
    data = write_caption_data(tmp_path, rows=8)
    records = tmp_path / "ranks"
    env = tiny_recipe_env(
        data,
        tmp_path / "run",
        MAX_EPOCH="3",
        BATCH_SIZE="4",
        LAUNCHER="torchrun",
        NPROC_PER_NODE="2",
        UNIVAL_RANK_RECORD_DIR=str(records),
    )
    backend = gpu_ddp_backend(env)
    log = run_recipe(CAPTION_TRAIN, env, tmp_path / "run.log", f"--ddp-backend={backend}")

    assert "training on 2 devices" in log
    assert sorted(inner_losses(log)) == [1, 2, 3]  # every update ran, past the second one
    ranks = {p.name: json.loads(p.read_text()) for p in sorted(records.glob("rank*.json"))}
    assert set(ranks) == {"rank0.json", "rank1.json"}, ranks
    assert all(r["world_size"] == 2 and r["epoch"] == 3 for r in ranks.values()), ranks
    assert ranks["rank0.json"]["digest"] == ranks["rank1.json"]["digest"]  # identical parameters
    model = safe_torch_load(tmp_path / "run" / "checkpoint_last.pt")["model"]
    video = [
        k for k in model if k.startswith("encoder.embed_videos.") and k.endswith("conv1.weight")
    ]
    assert video, "the recipe must build the video encoder for this test to mean anything"
    assert all(torch.isfinite(model[k]).all() for k in video)


def _two_steps(rank: int, args, results, port: int) -> None:
    """One rank: the caption recipe's model, two image-only updates under each DDP wrapper."""
    from fairseq.distributed import LegacyDistributedDataParallel

    from unival.models.builder import placeholder_dictionary
    from unival.models.unival import UnivalModel

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    dictionary = placeholder_dictionary(40)
    task = SimpleNamespace(source_dictionary=dictionary, target_dictionary=dictionary)
    # legacy first: a failed torch DDP step leaves its reducer (not the process group) unusable
    for backend in ("legacy_ddp", "pytorch_ddp"):
        torch.manual_seed(0)
        model = UnivalModel.build_model(args, task)
        if backend == "pytorch_ddp":
            wrapped = torch.nn.parallel.DistributedDataParallel(model, find_unused_parameters=False)
        else:
            wrapped = LegacyDistributedDataParallel(model, dist.group.WORLD)
        outcome = "ok"
        try:
            for _ in range(2):
                logits, _ = wrapped(
                    src_tokens=torch.tensor([[0, 5, 6, 2]]),
                    src_lengths=torch.tensor([4]),
                    prev_output_tokens=torch.tensor([[0, 8, 9]]),
                    patch_images=torch.randn(1, 3, 32, 32) + rank,
                    patch_masks=torch.tensor([True]),
                    patch_types=torch.tensor([0]),
                )
                logits.float().logsumexp(-1).sum().backward()
                if backend == "legacy_ddp":
                    wrapped.all_reduce_grads()
        except RuntimeError as error:
            outcome = str(error).splitlines()[0]
        results[(backend, rank)] = outcome
    dist.destroy_process_group()


def test_why_the_gpu_launch_uses_legacy_ddp(tmp_path):
    """torch's DDP without find_unused_parameters fails on the second update of an image batch
    (the video encoder got no gradient); fairseq's legacy_ddp (no_c10d) runs it."""
    from fairseq import options

    data = write_caption_data(tmp_path, rows=2)
    env = tiny_recipe_env(data, tmp_path / "run", DRY_RUN="1", PATCH_IMAGE_SIZE="32")
    proc = subprocess.run(
        ["bash", str(CAPTION_TRAIN)],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    args = options.parse_args_and_arch(options.get_training_parser(), shlex.split(proc.stdout)[1:])
    assert args.video_encoder_name == "resnext50"  # built, and no image batch reaches it
    results = mp.Manager().dict()
    mp.spawn(_two_steps, args=(args, results, free_port()), nprocs=2)
    assert (results[("legacy_ddp", 0)], results[("legacy_ddp", 1)]) == ("ok", "ok")
    for rank in (0, 1):
        assert "Expected to have finished reduction" in results[("pytorch_ddp", rank)], dict(
            results
        )
