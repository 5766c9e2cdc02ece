"""Real fairseq checkpoint files for the merging tests (written by torch_persistent_save)."""

import argparse

import numpy as np
import pytest
import torch


def tied_model_state(embedding, fc, num_batches_tracked=4):
    """A small UnIVAL-like state dict: three tied embedding names, a float layer, buffers."""
    shared = torch.as_tensor(embedding, dtype=torch.float32).clone()
    return {
        "encoder.embed_tokens.weight": shared,
        "decoder.embed_tokens.weight": shared,
        "decoder.output_projection.weight": shared,
        "encoder.layers.0.fc1.weight": torch.as_tensor(fc, dtype=torch.float32).clone(),
        "encoder.embed_images.bn1.num_batches_tracked": torch.tensor(num_batches_tracked),
        "encoder.token_rp_bucket": torch.tensor([[0, 1], [1, 0]]),
    }


def write_fairseq_checkpoint(path, model, ema=None, num_updates=100, task="caption"):
    """The top-level layout of fairseq's Trainer.state_dict, with a legacy Namespace in cfg."""
    from fairseq.checkpoint_utils import torch_persistent_save

    cfg = {
        "common": {"seed": 1},
        "task": {"_name": task},
        # a few tensors, not a UnIVAL model: an architecture merge cannot check them against
        "model": argparse.Namespace(arch="toy_linear", _name="toy_linear"),
    }
    extra = {
        "metrics": {},
        "val_loss": np.float64(1.25),
        "best": np.float32(2.0),
        "train_iterator": {"epoch": 2, "iterations_in_epoch": 0},
    }
    if ema is not None:
        extra["ema"] = ema
        extra["ema_fp32_params"] = {key: value.float() for key, value in ema.items()}
    state = {
        "args": None,
        "cfg": cfg,
        "model": model,
        "criterion": None,
        "optimizer_history": [
            {
                "criterion_name": "X",
                "optimizer_name": "Y",
                "lr_scheduler_state": {"best": 0.5},
                "num_updates": num_updates,
            }
        ],
        "task_state": {},
        "extra_state": extra,
        "last_optimizer_state": {"state": {0: {"exp_avg": torch.ones(3)}}},
    }
    torch_persistent_save(state, str(path))
    return path


@pytest.fixture
def checkpoint_pair(tmp_path):
    """A.pt and B.pt: model weights and distinct EMA weights, different num_batches_tracked."""
    a = write_fairseq_checkpoint(
        tmp_path / "A.pt",
        tied_model_state([[1.0, 2.0], [3.0, 4.0]], [1.0, -1.0], 4),
        ema=tied_model_state([[10.0, 20.0], [30.0, 40.0]], [5.0, 5.0], 4),
        num_updates=100,
        task="caption",
    )
    b = write_fairseq_checkpoint(
        tmp_path / "B.pt",
        tied_model_state([[3.0, 0.0], [5.0, 8.0]], [3.0, 1.0], 6),
        ema=tied_model_state([[30.0, 0.0], [50.0, 80.0]], [7.0, 1.0], 6),
        num_updates=200,
        task="vqa",
    )
    return a, b


@pytest.fixture
def write_checkpoint():
    return write_fairseq_checkpoint


@pytest.fixture
def tied_state():
    return tied_model_state
