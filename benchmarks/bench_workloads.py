"""Workloads of ``bench_model.py``: one model build, one timed workload.

A workload name is ``train_b{B}_{P}`` (fwd+bwd, label-smoothed CE, 20 source / 20 target
tokens, B images of P px) or ``beam_b{B}_{P}`` (beam 5, 20 tokens forced with
min_len = max_len = 20, B images of P px). Weights are random; embeddings are frozen as in
the caption scripts.
"""

import re
import statistics
import time
from dataclasses import dataclass
from typing import Callable, Dict, Optional

import torch

SRC_LEN = 20
TGT_LEN = 20
BEAM = 5
LABEL_SMOOTHING = 0.1
#: Dense peak TFLOP/s of known GPUs (for model FLOPs utilisation), by dtype.
GPU_PEAK_TFLOPS = {
    "H100": {"fp32": 67.0, "bf16": 989.0, "fp16": 989.0},
    "H200": {"fp32": 67.0, "bf16": 989.0, "fp16": 989.0},
    "A100": {"fp32": 19.5, "bf16": 312.0, "fp16": 312.0},
}
_NAME = re.compile(r"^(train|beam)_b(\d+)_(\d+)$")


@dataclass
class Workload:
    kind: str  # "train" or "beam"
    batch: int
    image_size: int

    @classmethod
    def parse(cls, name: str) -> "Workload":
        match = _NAME.match(name)
        if not match:
            raise ValueError(f"bad workload {name!r}: expected train_bB_P or beam_bB_P")
        return cls(match.group(1), int(match.group(2)), int(match.group(3)))

    def tokens(self) -> int:
        """Tokens processed per call: source + target per row (train), generated (beam)."""
        if self.kind == "train":
            return self.batch * (SRC_LEN + TGT_LEN)
        return self.batch * TGT_LEN


def build(arch: str, vocab: int, device: torch.device, channels_last: bool, **overrides):
    """``arch`` with random weights, embeddings frozen; on ``device``."""
    from unival.models import build_model

    torch.manual_seed(0)
    model = build_model(
        arch, vocab, freeze_encoder_embedding=True, freeze_decoder_embedding=True, **overrides
    )
    model = model.to(device)
    if channels_last:
        model.encoder.embed_images.to(memory_format=torch.channels_last)
    return model


def make_batch(model, work: Workload, device: torch.device, channels_last: bool) -> Dict:
    """Random net_input and target for ``work``."""
    dictionary = model.decoder.dictionary
    vocab = len(dictionary)
    gen = torch.Generator().manual_seed(1)
    src = torch.randint(4, vocab, (work.batch, SRC_LEN), generator=gen)
    target = torch.randint(4, vocab, (work.batch, TGT_LEN), generator=gen)
    prev = torch.cat([torch.full((work.batch, 1), dictionary.bos()), target[:, :-1]], dim=1)
    images = torch.randn(work.batch, 3, work.image_size, work.image_size, generator=gen)
    if channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    net_input = {
        "src_tokens": src.to(device),
        "src_lengths": torch.full((work.batch,), SRC_LEN, device=device),
        "patch_images": images.to(device),
        "patch_masks": torch.ones(work.batch, dtype=torch.bool, device=device),
    }
    return {
        "net_input": net_input,
        "prev_output_tokens": prev.to(device),
        "target": target.to(device),
    }


def train_step_fn(model, batch: Dict, autocast: Optional[torch.dtype]) -> Callable[[], None]:
    """One forward + backward of label-smoothed CE (gradients cleared first)."""
    from unival.criterions import label_smoothed_nll_loss

    model.train()
    device_type = batch["target"].device.type

    def step():
        model.zero_grad(set_to_none=True)
        with torch.autocast(
            device_type, dtype=autocast or torch.float32, enabled=autocast is not None
        ):
            logits, _ = model(**batch["net_input"], prev_output_tokens=batch["prev_output_tokens"])
        lprobs = torch.log_softmax(logits.float(), dim=-1).view(-1, logits.size(-1))
        loss, _ = label_smoothed_nll_loss(lprobs, batch["target"].view(-1), LABEL_SMOOTHING)
        loss.sum().backward()

    return step


def beam_fn(model, batch: Dict, autocast: Optional[torch.dtype]) -> Callable[[], None]:
    """Beam 5 with exactly TGT_LEN tokens per hypothesis."""
    from unival.generation.sequence_generator import UnivalSequenceGenerator

    model.eval()
    generator = UnivalSequenceGenerator(
        [model],
        model.decoder.dictionary,
        beam_size=BEAM,
        max_len_a=0,
        max_len_b=TGT_LEN,
        min_len=TGT_LEN,
    )
    sample = {"net_input": batch["net_input"]}
    device_type = batch["target"].device.type

    def step():
        with torch.autocast(
            device_type, dtype=autocast or torch.float32, enabled=autocast is not None
        ):
            hyps = generator.generate([model], sample)
        lengths = {len(h[0]["tokens"]) for h in hyps}
        if lengths != {TGT_LEN + 1}:  # 20 tokens + EOS
            raise RuntimeError(f"beam search did not force {TGT_LEN} tokens: {lengths}")

    return step


def count_flops(fn: Callable[[], None]) -> float:
    """FLOPs of one call (torch's FlopCounterMode: matmuls, convolutions, attention)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        fn()
    return float(counter.get_total_flops())


def time_calls(fn: Callable[[], None], repeats: int, warmup: int, device: torch.device):
    """Seconds of ``repeats`` calls after ``warmup`` untimed ones."""

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return times


def summarise(times, work: Workload, flops: float, device: torch.device, dtype: str) -> Dict:
    """median/min/max seconds, tokens/s, achieved TFLOP/s and (GPU) MFU."""
    median = statistics.median(times)
    result = {
        "median_s": median,
        "min_s": min(times),
        "max_s": max(times),
        "tokens_per_s": work.tokens() / median,
        "flops": flops,
        "tflops_per_s": flops / median / 1e12,
    }
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        peak = next((v[dtype] for k, v in GPU_PEAK_TFLOPS.items() if k in name), None)
        result["gpu"] = name
        result["mfu"] = result["tflops_per_s"] / peak if peak else None
        result["peak_gpu_mem_gb"] = torch.cuda.max_memory_allocated(device) / 2**30
    return result
