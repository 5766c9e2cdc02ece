"""Stopping and resuming a run reproduces the uninterrupted run exactly (CPU).

``run_scripts/pretraining/stage1.sh`` (unify_task: a main caption file plus QA and grounding
streams, i.e. the multitask sampler) trains ``unival_tiny`` on 4 main rows, one row a step:
once for 6 updates, and once stopped after 3 updates (mid-epoch, --max-update=3) and started
again with the same command and --max-update=6. The second launch resumes from
checkpoint_last.pt (optimizer, LR schedule, data position); every logged loss of updates 4-6 and
the final weights equal the uninterrupted run's.
"""

import pytest
import torch
from recipe_runs import REPO_ROOT, inner_losses, run_recipe, tiny_recipe_env
from test_pretrain_e2e import write_pretrain_data

from unival.safe_load import safe_torch_load

pytestmark = (
    pytest.mark.slow
)  # three short fairseq-train runs, about 1 minute on an idle 2-core CPU

STAGE1 = REPO_ROOT / "run_scripts" / "pretraining" / "stage1.sh"


def stage1_env(tmp_path, data, save_dir):
    files = {"train": data["main"], "valid": data["main"], "dict": tmp_path / "dict.txt"}
    return tiny_recipe_env(
        files,
        save_dir,
        DATA_DIR=str(tmp_path),
        IMAGE_DIR=str(tmp_path),
        NEG_SAMPLE_DIR=str(data["neg"]),
        VQA_DATA=str(data["vqa"]),
        GROUND_DATA=str(data["ground"]),
        IMAGE_TEXT_DATA="none",
        GROUND_CNT="2",
        BATCH_SIZE="1",
        UPDATE_FREQ="1",
        DROPOUT="0.1",
        ENCODER_DROP_PATH="0.1",
        DECODER_DROP_PATH="0.1",
        RUN_NAME="resume",
    )


def test_resumed_run_reproduces_the_uninterrupted_one(tmp_path):
    data = write_pretrain_data(tmp_path)
    tiny = ("--random-resize-max=40",)
    whole = run_recipe(
        STAGE1,
        stage1_env(tmp_path, data, tmp_path / "whole"),
        tmp_path / "whole.log",
        *tiny,
        "--max-update=6",
    )
    env = stage1_env(tmp_path, data, tmp_path / "parts")
    first = run_recipe(STAGE1, env, tmp_path / "first.log", *tiny, "--max-update=3")
    assert "--reset-optimizer" in first
    second = run_recipe(STAGE1, env, tmp_path / "second.log", *tiny, "--max-update=6")
    assert (
        "resuming from" in second
        and "--reset-optimizer" not in second.split("running:", 1)[1].split("\n")[0]
    )

    expected = inner_losses(whole)
    assert sorted(expected) == [1, 2, 3, 4, 5, 6], whole[-3000:]
    assert inner_losses(first) == {u: expected[u] for u in (1, 2, 3)}
    assert inner_losses(second) == {u: expected[u] for u in (4, 5, 6)}  # continues mid-epoch 1
    assert (
        "epoch 001:      4 / 4" in second
    )  # the data position: the last of the 4 batches of epoch 1
    a = safe_torch_load(tmp_path / "whole" / "checkpoint_last.pt")
    b = safe_torch_load(tmp_path / "parts" / "checkpoint_last.pt")
    assert (
        a["optimizer_history"][-1]["num_updates"] == b["optimizer_history"][-1]["num_updates"] == 6
    )
    assert a["extra_state"]["train_iterator"] == b["extra_state"]["train_iterator"]
    for key, value in a["model"].items():
        assert torch.equal(value, b["model"][key]), key
