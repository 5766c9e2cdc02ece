"""Two-process CPU training through the run-script launcher (LAUNCHER=torchrun, gloo).

``run_scripts/caption/train.sh`` with ``LAUNCHER=torchrun NPROC_PER_NODE=2 DEVICE=cpu`` trains
``unival_tiny`` on 8 rows, 4 per rank, for 3 epochs (one update each); the same script with
the default local launcher trains the same global batch of 8 in one process. Every rank writes
its record at validation (``UNIVAL_RANK_RECORD_DIR``, :mod:`unival.tasks.rank_record`); the test
fails when a rank is missing, did not join a world of 2, or holds other parameters than rank 0
(e.g. the fairseq CPU trap: spawning 0 processes and exiting 0, or ranks training alone).
"""

import json

import pytest
import torch
from recipe_runs import CAPTION_TRAIN, inner_losses, run_recipe, tiny_recipe_env, write_caption_data

from unival.safe_load import safe_torch_load

pytestmark = (
    pytest.mark.slow
)  # about 1 minute on an idle 2-core CPU (55 s measured: 2-rank run 38 s + 1-process run 18 s)

#: Both runs take the plain path: the one process sees each picture twice and the fast path would
#: run its backbone once per picture, summing the copies' gradients in another order than the
#: ranks (four distinct pictures each); Adam magnifies that rounding in near-zero gradients past
#: the tolerance (a few hundred of 2 M ResNet weights, by up to 1e-3, after 3 updates).
#: Per-rank BatchNorm statistics: each rank normalises its own 4 rows (no SyncBatchNorm), so
#: the buffers saved by rank 0 are its local statistics, not those of the 8-row batch.
PER_RANK_BUFFERS = ("running_mean", "running_var", "num_batches_tracked")


def test_two_ranks_train_together_and_match_one_process(tmp_path):
    data = write_caption_data(tmp_path, rows=8)
    records = tmp_path / "ranks"
    env2 = tiny_recipe_env(
        data,
        tmp_path / "two",
        MAX_EPOCH="3",
        BATCH_SIZE="4",
        LAUNCHER="torchrun",
        NPROC_PER_NODE="2",
        UNIVAL_RANK_RECORD_DIR=str(records),
        UNIVAL_PLAIN_PATH="1",
    )
    log2 = run_recipe(CAPTION_TRAIN, env2, tmp_path / "two.log")
    env1 = tiny_recipe_env(
        data, tmp_path / "one", MAX_EPOCH="3", BATCH_SIZE="8", UNIVAL_PLAIN_PATH="1"
    )
    log1 = run_recipe(CAPTION_TRAIN, env1, tmp_path / "one.log")

    assert "training on 2 devices" in log2 and "training on 1 devices" in log1
    ranks = {p.name: json.loads(p.read_text()) for p in sorted(records.glob("rank*.json"))}
    assert set(ranks) == {"rank0.json", "rank1.json"}, ranks
    for name, record in ranks.items():
        assert (record["world_size"], record["backend"], record["epoch"]) == (2, "gloo", 3), (
            name,
            record,
        )
    assert ranks["rank0.json"]["digest"] == ranks["rank1.json"]["digest"]  # identical parameters

    # 3 updates of 8 rows each, logged with the same losses as the one-process run
    losses2, losses1 = inner_losses(log2), inner_losses(log1)
    assert sorted(losses2) == [1, 2, 3] and losses2 == losses1, (losses2, losses1)
    assert "nsentences=8" in log2.split("train_inner", 1)[1].splitlines()[0]
    two = safe_torch_load(tmp_path / "two" / "checkpoint_last.pt")
    one = safe_torch_load(tmp_path / "one" / "checkpoint_last.pt")
    assert (
        two["optimizer_history"][-1]["num_updates"]
        == one["optimizer_history"][-1]["num_updates"]
        == 3
    )
    compared = 0
    for key, value in one["model"].items():
        if key.endswith(PER_RANK_BUFFERS):
            continue
        torch.testing.assert_close(
            two["model"][key].float(), value.float(), atol=1e-4, rtol=1e-4, msg=key
        )
        compared += 1
    assert compared > 100
