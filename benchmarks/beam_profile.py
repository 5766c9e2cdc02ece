"""Where a beam-search call spends its FLOPs and its time, part by part.

For ``bench_model.py``'s beam workload (``unival_base``, beam 5, 20 forced tokens, B images
of P px), prints one row per part of the model:

* the FLOPs the work needs, counted by hand from the layer shapes (convolutions from their
  output sizes, transformer layers from d, FFN, sequence lengths, the output projection
  from the vocabulary): what any implementation has to compute;
* the FLOPs torch's FlopCounterMode counts in the real call (what this code computes);
* the seconds spent in the part (module hooks around the call; log-softmax timed through
  ``get_normalized_probs``), and its rate;
* a 2048^3 fp32 matmul's rate measured in the same process: the ceiling.

What is left of the call's time outside the parts is the generator's bookkeeping.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/beam_profile.py --batch 1 --size 480
"""

import argparse
import json
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Dict, List

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_workloads import BEAM, SRC_LEN, TGT_LEN, Workload, beam_fn, build, make_batch  # noqa: E402

PARTS = ("image backbone", "encoder layers", "decoder layers", "output projection")


def matmul_peak(threads: int, size: int = 2048, repeats: int = 5) -> float:
    """Median GFLOP/s of a size^3 fp32 matmul."""
    torch.set_num_threads(threads)
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - start)
    return 2 * size**3 / statistics.median(times) / 1e9


def part_modules(model) -> Dict[str, List[torch.nn.Module]]:
    """The modules timed as each part (layers one by one, so no hook nests in another)."""
    return {
        "image backbone": [model.encoder.embed_images],
        "encoder layers": list(model.encoder.layers),
        "decoder layers": list(model.decoder.layers),
        "output projection": [model.decoder.output_projection],
    }


def needed_flops(model, batch: int, image_size: int) -> Dict[str, float]:
    """FLOPs per part counted by hand: 2 x multiply-adds of every matmul / convolution.

    Convolutions are counted from the output shapes a forward pass records (2 * Cout * Hout *
    Wout * Cin/groups * kh * kw); the transformer from its sizes. The decoder projects the
    encoder memory to cross-attention keys and values once per sentence, not per hypothesis.
    """
    conv_flops = []

    def record(module, _inputs, output):
        kh, kw = module.kernel_size
        cin = module.in_channels // module.groups
        conv_flops.append(2 * output.numel() * cin * kh * kw)

    hooks = [
        m.register_forward_hook(record)
        for m in model.encoder.embed_images.modules()
        if isinstance(m, torch.nn.Conv2d)
    ]
    with torch.no_grad():
        grid = model.encoder.embed_images(torch.zeros(1, 3, image_size, image_size))
    for hook in hooks:
        hook.remove()
    patches = grid.shape[-2] * grid.shape[-1]
    d = model.encoder.embed_tokens.embedding_dim
    ffn = model.encoder.layers[0].fc1.out_features
    vocab = model.decoder.output_projection.out_features
    source = patches + SRC_LEN  # memory length S
    per_token = 2 * (4 * d * d + 2 * d * ffn)  # q, k, v, out + FFN
    encoder = len(model.encoder.layers) * batch * (source * per_token + 4 * source * source * d)
    rows, steps = batch * BEAM, TGT_LEN + 1
    decoder = 0
    for step in range(steps):  # per hypothesis: self-attn, cross q/out, FFN, attention scores
        per_row = 2 * (6 * d * d + 2 * d * ffn) + 4 * (step + 1) * d + 4 * source * d
        decoder += rows * per_row
    decoder = len(model.decoder.layers) * (decoder + batch * 2 * 2 * d * d * source)
    return {
        "image backbone": batch * float(sum(conv_flops)),
        "encoder layers": float(encoder),
        "decoder layers": float(decoder),
        "output projection": float(rows * steps * 2 * d * vocab),
    }


def counted_flops(model, fn) -> Dict[str, float]:
    """FlopCounterMode's FLOPs of one call, per part (by the module that ran them)."""
    counter = FlopCounterMode(display=False, depth=None)
    with counter:
        fn()
    counts = {name: sum(ops.values()) for name, ops in counter.get_flop_counts().items()}
    backbone = type(model.encoder.embed_images).__name__
    encoder_layer = type(model.encoder.layers[0]).__name__
    decoder_layer = type(model.decoder.layers[0]).__name__
    out = {
        "image backbone": counts.get(backbone, 0),
        "encoder layers": counts.get(encoder_layer, 0),
        "decoder layers": counts.get(decoder_layer, 0),
    }
    # every other top-level Linear (output projection, position-bias and patch projections)
    out["output projection"] = counts.get("Linear", 0)
    out["total"] = counts.get("Global", 0)
    return {k: float(v) for k, v in out.items()}


def timed_parts(model, fn, repeats: int) -> Dict[str, float]:
    """Median seconds per part over ``repeats`` calls, plus ``log-softmax`` and ``total``."""
    spent: Dict[str, float] = defaultdict(float)
    started: Dict[int, float] = {}
    hooks = []
    for part, modules in part_modules(model).items():
        for module in modules:

            def before(mod, _inputs):
                started[id(mod)] = time.perf_counter()

            def after(mod, _inputs, _output, part=part):
                spent[part] += time.perf_counter() - started.pop(id(mod))

            hooks.append(module.register_forward_pre_hook(before))
            hooks.append(module.register_forward_hook(after))
    original = model.get_normalized_probs

    def normalized(*args, **kwargs):
        start = time.perf_counter()
        result = original(*args, **kwargs)
        spent["log-softmax"] += time.perf_counter() - start
        return result

    model.get_normalized_probs = normalized
    runs: List[Dict[str, float]] = []
    try:
        for _ in range(repeats):
            spent.clear()
            start = time.perf_counter()
            fn()
            spent["total"] = time.perf_counter() - start
            runs.append(dict(spent))
    finally:
        del model.get_normalized_probs
        for hook in hooks:
            hook.remove()
    return {key: statistics.median(run.get(key, 0.0) for run in runs) for key in runs[0]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--size", type=int, default=480)
    parser.add_argument("--arch", default="unival_base")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--plain", action="store_true", help="the plain (reference-shaped) path")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    if args.plain:
        from unival.models.perf import set_fast_paths

        set_fast_paths(False)
    peak = matmul_peak(args.threads)
    model = build(args.arch, 59457, torch.device("cpu"), False)
    batch = make_batch(model, Workload("beam", args.batch, args.size), torch.device("cpu"), False)
    fn = beam_fn(model, batch, None)
    fn()  # warm-up
    needed = needed_flops(model, args.batch, args.size)
    counted = counted_flops(model, fn)
    seconds = timed_parts(model, fn, args.repeats)
    rows = []
    for part in PARTS:
        rate = counted[part] / seconds[part] / 1e9 if seconds.get(part) else float("nan")
        rows.append((part, needed[part] / 1e9, counted[part] / 1e9, seconds.get(part, 0.0), rate))
    rest = seconds["total"] - sum(seconds.get(p, 0.0) for p in PARTS)
    print(f"{args.arch}, beam {BEAM}, {args.batch} image(s) of {args.size} px, 2048^3 matmul:")
    print(f"  {peak:.0f} GFLOP/s (fast paths: {not args.plain})")
    print("| part | needed GFLOP | counted GFLOP | seconds | GFLOP/s | share |")
    print("|---|---|---|---|---|---|")
    for part, need, count, sec, rate in rows:
        share = sec / seconds["total"]
        print(f"| {part} | {need:.1f} | {count:.1f} | {sec:.3f} | {rate:.0f} | {share:.0%} |")
    log_softmax = seconds.get("log-softmax", 0.0)
    print(f"| log-softmax | - | - | {log_softmax:.3f} | - | {log_softmax / seconds['total']:.0%} |")
    other = rest - log_softmax
    print(f"| generator and the rest | - | - | {other:.3f} | - | {other / seconds['total']:.0%} |")
    total_needed = sum(needed.values()) / 1e9
    print(
        f"| total | {total_needed:.1f} | {counted['total'] / 1e9:.1f} | {seconds['total']:.3f} |"
        f" {counted['total'] / seconds['total'] / 1e9:.0f} | 100% |"
    )
    print(f"time floor at the matmul peak: {counted['total'] / 1e9 / peak:.2f} s")
    if args.json:
        figures = {"peak_gflops": peak, "needed": needed, "counted": counted, "seconds": seconds}
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
