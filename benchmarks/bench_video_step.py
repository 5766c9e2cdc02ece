"""Why the demo's video experts train slower than its image experts: one script, one device.

    python benchmarks/bench_video_step.py --device cuda --dtype bf16 --json OUT.json
    python benchmarks/bench_video_step.py --quick          # CPU smoke (tiny batch)

Times one forward + backward of ``unival_tiny`` (the demo's model) on a batch of the demo's
image items (64 px) and of its video items (4 frames of 32 px), the video one also with
cuDNN's autotuner (``torch.backends.cudnn.benchmark``), with cuDNN off, and with the video
backbone in channels-last-3d memory; then the video backbone alone; then how long the demo's
video loader takes per item (PyAV decode + transform) with FFmpeg's threading on and off.
The model is cast to ``--dtype`` as fairseq's ``--bf16``/``--fp16`` do (not autocast).
Each figure is the median of ``--repeats`` calls after 3 warm-ups.
"""

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "fairseq_plugins"))

from bench_workloads import LABEL_SMOOTHING, SRC_LEN, TGT_LEN, build, time_calls  # noqa: E402

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--dtype", default="fp32", choices=sorted(DTYPES))
    parser.add_argument("--batch", type=int, default=64, help="the GPU profile's batch")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--items", type=int, default=100, help="videos timed by the loader")
    parser.add_argument("--quick", action="store_true", help="batch 2, 2 repeats, 10 items")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args(argv)
    if args.quick:
        args.batch, args.repeats, args.items = 2, 2, 10
    return args


def batch_for(model, kind: str, size: int, device, dtype) -> dict:
    """Random tokens and a (B, 3, 64, 64) image or (B, 3, 4, 32, 32) video batch."""
    from unival.data.modality import Modality

    vocab = len(model.decoder.dictionary)
    gen = torch.Generator().manual_seed(1)
    src = torch.randint(4, vocab, (size, SRC_LEN), generator=gen)
    target = torch.randint(4, vocab, (size, TGT_LEN), generator=gen)
    prev = torch.cat([torch.full((size, 1), 0), target[:, :-1]], dim=1)
    net_input = {
        "src_tokens": src.to(device),
        "src_lengths": torch.full((size,), SRC_LEN, device=device),
        "patch_masks": torch.ones(size, dtype=torch.bool, device=device),
    }
    if kind == "image":
        media = torch.randn(size, 3, 64, 64, generator=gen)
        net_input["patch_images"] = media.to(device, dtype)
        net_input["patch_types"] = torch.full((size,), int(Modality.IMAGE), device=device)
    else:
        media = torch.randn(size, 3, 4, 32, 32, generator=gen)
        net_input["patch_videos"] = media.to(device, dtype)
        net_input["patch_types"] = torch.full((size,), int(Modality.VIDEO), device=device)
    return {"net_input": net_input, "prev": prev.to(device), "target": target.to(device)}


def step_fn(model, batch):
    """One forward + backward of label-smoothed cross-entropy."""
    from unival.criterions import label_smoothed_nll_loss

    def step():
        model.zero_grad(set_to_none=True)
        logits, _ = model(**batch["net_input"], prev_output_tokens=batch["prev"])
        lprobs = torch.log_softmax(logits.float(), dim=-1).view(-1, logits.size(-1))
        loss, _ = label_smoothed_nll_loss(lprobs, batch["target"].view(-1), LABEL_SMOOTHING)
        loss.sum().backward()

    return step


def backbone_fn(model, batch):
    """Forward + backward of the video backbone alone on the batch's clips."""
    backbone = model.encoder.embed_videos
    clips = batch["net_input"]["patch_videos"]

    def step():
        backbone.zero_grad(set_to_none=True)
        backbone(clips).float().sum().backward()

    return step


@contextlib.contextmanager
def cudnn(benchmark: bool = False, enabled: bool = True):
    saved = torch.backends.cudnn.benchmark, torch.backends.cudnn.enabled
    torch.backends.cudnn.benchmark, torch.backends.cudnn.enabled = benchmark, enabled
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark, torch.backends.cudnn.enabled = saved


def median_ms(fn, args, device) -> float:
    return 1e3 * statistics.median(time_calls(fn, args.repeats, 3, device))


def model_figures(args) -> dict:
    device, dtype = torch.device(args.device), DTYPES[args.dtype]
    model = build("unival_tiny", 4000, device, False).to(dtype)
    model.train()
    image = batch_for(model, "image", args.batch, device, dtype)
    video = batch_for(model, "video", args.batch, device, dtype)
    figures = {"image_step_ms": median_ms(step_fn(model, image), args, device)}
    figures["video_step_ms"] = median_ms(step_fn(model, video), args, device)
    with cudnn(benchmark=True):
        figures["video_step_cudnn_benchmark_ms"] = median_ms(step_fn(model, video), args, device)
    with cudnn(enabled=False):
        figures["video_step_no_cudnn_ms"] = median_ms(step_fn(model, video), args, device)
    figures["video_backbone_ms"] = median_ms(backbone_fn(model, video), args, device)
    with cudnn(benchmark=True):
        figures["video_backbone_cudnn_benchmark_ms"] = median_ms(
            backbone_fn(model, video), args, device
        )
    with cudnn(enabled=False):
        figures["video_backbone_no_cudnn_ms"] = median_ms(backbone_fn(model, video), args, device)
    model.encoder.embed_videos.to(memory_format=torch.channels_last_3d)
    last = dict(video, net_input=dict(video["net_input"]))
    clips = video["net_input"]["patch_videos"]
    last["net_input"]["patch_videos"] = clips.contiguous(memory_format=torch.channels_last_3d)
    figures["video_backbone_channels_last_ms"] = median_ms(backbone_fn(model, last), args, device)
    return figures


def loader_figures(args) -> dict:
    """ms per item of the demo's video loader on freshly written toy videos."""
    from unival.data.io import video as video_io
    from unival.data.media import VideoLoader
    from unival.toy_world.media import ToyMediaConfig, build_video_split, generate_video_clips

    figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        config = ToyMediaConfig(video_size=32, num_frames=16)  # the demo's toy videos
        clips = generate_video_clips("train", args.items, 0, 32, 16)
        build_video_split(tmp, "train", clips, config)
        paths = sorted(Path(tmp, "videos", "train").glob("*.mp4"))
        loader = VideoLoader(num_frames=4, size=32)
        default = video_io.FFMPEG_THREAD_TYPE
        try:
            for threading in ("AUTO", None):
                video_io.FFMPEG_THREAD_TYPE = threading
                rng = np.random.default_rng(0)
                times = []
                for _ in range(3):
                    start = time.perf_counter()
                    for path in paths:
                        loader.load(str(path), train=True, rng=rng)
                    times.append((time.perf_counter() - start) / len(paths))
                ms = 1e3 * statistics.median(times)
                figures[f"video_item_ms_threads_{threading or 'off'}"] = ms
        finally:
            video_io.FFMPEG_THREAD_TYPE = default
    return figures


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.manual_seed(0)
    figures = {"device": args.device, "dtype": args.dtype, "batch": args.batch}
    if args.device == "cuda":
        figures["gpu"] = torch.cuda.get_device_name()
    figures.update(model_figures(args))
    figures.update(loader_figures(args))
    for name, value in figures.items():
        print(f"{name:40s} {value:.2f}" if isinstance(value, float) else f"{name:40s} {value}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
