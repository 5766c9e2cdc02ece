"""Two ranks train an image recipe whose video encoder gets no gradient, with the GPU launch's
DDP backend.

Image fine-tuning builds the video encoder too (it is part of the checkpoint) but an image batch
never reaches it. torch's DistributedDataParallel without ``find_unused_parameters`` stops at the
second update on such a model ("Expected to have finished reduction in the prior iteration");
the GPU launch of the run scripts therefore uses the authors' ``no_c10d`` backend (fairseq's
``legacy_ddp``). This test reads the backend from the rendered GPU command and trains
``caption/train.sh`` with it on 2 CPU ranks (gloo): both ranks must finish every update with
identical parameters, the unused video encoder included.
"""

import json
import shlex
import subprocess

import pytest
import torch
from recipe_runs import (
    CAPTION_TRAIN,
    REPO_ROOT,
    inner_losses,
    run_recipe,
    tiny_recipe_env,
    write_caption_data,
)

from unival.compat import safe_torch_load

pytestmark = pytest.mark.slow  # about 40 s on an idle 2-core CPU


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
