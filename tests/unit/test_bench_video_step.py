"""benchmarks/bench_video_step.py: its video batch really trains the video backbone, its image
batch the image backbone, and the cuDNN switches are put back."""

import pytest
import torch
from helpers import load_benchmark


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("bench_video_step")


@pytest.fixture(scope="module")
def model(bench):
    return bench.build("unival_tiny", 64, torch.device("cpu"), False)


def grads(module) -> bool:
    return any(p.grad is not None and p.grad.abs().sum() > 0 for p in module.parameters())


@pytest.mark.parametrize("kind", ["video", "image"])
def test_each_batch_trains_its_own_backbone_only(bench, model, kind):
    batch = bench.batch_for(model, kind, 2, torch.device("cpu"), torch.float32)
    media = batch["net_input"]["patch_videos" if kind == "video" else "patch_images"]
    assert media.shape == ((2, 3, 4, 32, 32) if kind == "video" else (2, 3, 64, 64))
    bench.step_fn(model, batch)()
    assert grads(model.encoder.embed_videos) == (kind == "video")
    assert grads(model.encoder.embed_images) == (kind == "image")


def test_the_backbone_step_reaches_the_video_backbone_alone(bench, model):
    batch = bench.batch_for(model, "video", 2, torch.device("cpu"), torch.float32)
    model.zero_grad(set_to_none=True)
    bench.backbone_fn(model, batch)()
    assert grads(model.encoder.embed_videos)
    assert not grads(model.encoder.embed_images) and not grads(model.decoder)


def test_cudnn_switches_are_restored(bench):
    saved = torch.backends.cudnn.benchmark, torch.backends.cudnn.enabled
    with bench.cudnn(benchmark=not saved[0], enabled=not saved[1]):
        assert torch.backends.cudnn.benchmark != saved[0]
        assert torch.backends.cudnn.enabled != saved[1]
    assert (torch.backends.cudnn.benchmark, torch.backends.cudnn.enabled) == saved
