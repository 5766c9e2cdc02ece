"""Mixed precision: a bf16 autocast step of unival_tiny on CPU and (on a GPU machine,
``-m gpu``) short fp16 and bf16 fairseq-train runs.

bf16 matrix products are very slow on CPUs without AVX-512 BF16, so the CPU check is one tiny
forward/backward pass.
"""

import sys
from pathlib import Path

import pytest
import torch

from unival.models import build_model

REPO_ROOT = Path(__file__).resolve().parents[3]


def test_bf16_autocast_step_on_cpu():
    torch.manual_seed(0)
    model = build_model("unival_tiny", 32).train()
    batch = {
        "src_tokens": torch.tensor([[0, 5, 6, 2]]),
        "src_lengths": torch.tensor([4]),
        "prev_output_tokens": torch.tensor([[0, 7, 8]]),
        "patch_images": torch.randn(1, 3, 32, 32),
        "patch_masks": torch.tensor([True]),
        "patch_types": torch.tensor([0]),
    }
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits, _ = model(**batch)
        loss = torch.nn.functional.cross_entropy(
            logits.float().flatten(0, 1), torch.tensor([7, 8, 2])
        )
    assert logits.dtype == torch.bfloat16 and torch.isfinite(loss)
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert len(grads) > 50 and all(
        g.dtype == torch.float32 and torch.isfinite(g).all() for g in grads
    )
    assert all(
        p.dtype == torch.float32 for p in model.parameters()
    )  # weights stay fp32 under autocast


def _caption_run(tmp_path, rows: int, **values: str) -> tuple:
    """A real tiny caption/train.sh run (tests/e2e/recipe_runs.py): ({update: logged loss}, log)."""
    sys.path.insert(0, str(REPO_ROOT / "tests" / "e2e"))
    from recipe_runs import (
        CAPTION_TRAIN,
        inner_losses,
        run_recipe,
        tiny_recipe_env,
        write_caption_data,
    )

    data = write_caption_data(tmp_path, rows=rows)
    env = tiny_recipe_env(data, tmp_path / "run", **values)
    log = run_recipe(CAPTION_TRAIN, env, tmp_path / "train.log", "--no-save")
    return inner_losses(log), log


def test_bf16_recipe_run_on_cpu(tmp_path):
    """caption/train.sh with PRECISION=bf16 trains on the CPU it was given: fairseq's parser
    also sets its TPU mode for --bf16, which the plugin turns off (unival.compat)."""
    losses, log = _caption_run(tmp_path, 4, PRECISION="bf16", MAX_UPDATE="2")
    assert sorted(losses) == [1, 2] and all(0 < float(v) < 20 for v in losses.values()), log
    assert "--bf16" in log and "torch_xla" not in log


@pytest.mark.gpu
@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_short_gpu_run(precision, tmp_path):
    """caption/train.sh on one GPU with PRECISION=fp16|bf16: 4 updates, finite losses,
    no overflow stop."""
    losses, log = _caption_run(
        tmp_path, 8, DEVICE="gpu", PRECISION=precision, MAX_EPOCH="2", BATCH_SIZE="4"
    )
    assert sorted(losses) == [1, 2, 3, 4] and all(float(v) < 20 for v in losses.values()), log[
        -3000:
    ]
    assert ("loss_scale" in log) == (precision == "fp16")
