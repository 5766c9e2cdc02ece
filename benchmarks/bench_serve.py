"""Load test of ``unival serve`` on loopback: batched vs one request at a time (BENCHMARKS.md §8).

    python benchmarks/bench_serve.py      # 8 clients, 20 s per arm, toy caption model
    python benchmarks/bench_serve.py --clients 8 --seconds 30 --arms 8,1 --json out.json
    python benchmarks/bench_serve.py \
        --checkpoint outputs/demo/multitask/caption/checkpoints/checkpoint_last.pt

For each arm (a ``--max-batch-size``), a fresh ``unival serve`` starts on a free 127.0.0.1
port; ``--clients`` threads then each send ``POST /api/caption`` requests one after another
(toy-world images, cycled) for ``--seconds`` after ``--warmup`` seconds. Printed per arm:
requests completed inside the measured window, throughput, their p50/p95 latency (client
side, queueing included) and the server's mean batch size. Nothing leaves the machine; the load
is bounded by the clients and the duration.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

UNIVAL = Path(sys.executable).parent / "unival"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds per arm")
    parser.add_argument(
        "--warmup", type=float, default=3.0, help="unmeasured seconds before each arm"
    )
    parser.add_argument("--arms", default="8,1", help="comma list of --max-batch-size values")
    parser.add_argument("--batch-wait-ms", type=float, default=10.0)
    parser.add_argument(
        "--checkpoint", help="caption checkpoint (default: a random unival_tiny toy one)"
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="fp32")
    parser.add_argument(
        "--images", type=int, default=8, help="distinct toy images the clients cycle"
    )
    parser.add_argument("--json", help="write the results here")
    return parser.parse_args(argv)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def toy_images(count: int) -> list:
    """PNG bytes of toy-world scenes."""
    import io

    from unival.toy_world import generate_scenes, render_scene

    images = []
    for scene in generate_scenes("test", count, seed=0, image_size=64):
        buffer = io.BytesIO()
        render_scene(scene).save(buffer, format="PNG")
        images.append(base64.b64encode(buffer.getvalue()).decode("ascii"))
    return images


def start_server(args, checkpoint: str, max_batch_size: int, log_path: str):
    port = free_port()
    cmd = [
        str(UNIVAL),
        "serve",
        "--model",
        f"caption={checkpoint}",
        "--port",
        str(port),
        "--device",
        args.device,
        "--dtype",
        args.dtype,
        "--max-batch-size",
        str(max_batch_size),
        "--batch-wait-ms",
        str(args.batch_wait_ms),
        "--no-examples",
    ]
    log = open(log_path, "w")
    process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"unival serve exited ({process.returncode}); see {log_path}")
        try:
            urllib.request.urlopen(url + "/api/info", timeout=5).close()
            return process, url
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.5)
    process.terminate()
    raise SystemExit(f"unival serve did not start within 300 s; see {log_path}")


def post(url: str, image: str) -> dict:
    body = json.dumps({"image": image}).encode()
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=300) as answer:
        return json.load(answer)


def run_clients(url: str, images: list, clients: int, warmup: float, seconds: float) -> list:
    """Latencies (s) of the requests that finished inside the measured window."""
    start = time.monotonic() + warmup
    stop = start + seconds
    latencies, lock = [], threading.Lock()

    def client(offset: int) -> None:
        index = offset
        while time.monotonic() < stop:
            began = time.monotonic()
            post(url + "/api/caption", images[index % len(images)])
            ended = time.monotonic()
            index += clients
            if start <= ended <= stop:
                with lock:
                    latencies.append(ended - began)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies


def percentile(values: list, q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def main(argv=None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", str(min(2, os.cpu_count() or 1)))
    work = tempfile.mkdtemp(prefix="bench_serve_")
    checkpoint = args.checkpoint
    if checkpoint is None:
        from unival.testing.toy_checkpoint import write_toy_checkpoint

        checkpoint = str(write_toy_checkpoint(Path(work) / "toy", "caption"))
    images = toy_images(args.images)
    results = []
    for max_batch_size in (int(a) for a in args.arms.split(",")):
        process, url = start_server(
            args, checkpoint, max_batch_size, os.path.join(work, f"serve_b{max_batch_size}.log")
        )
        try:
            latencies = run_clients(url, images, args.clients, args.warmup, args.seconds)
            stats = json.load(urllib.request.urlopen(url + "/api/stats", timeout=30))["caption"]
        finally:
            process.terminate()
            process.wait(timeout=60)
        mean_batch = stats["requests"] / max(stats["batches"], 1)
        row = {
            "max_batch_size": max_batch_size,
            "clients": args.clients,
            "seconds": args.seconds,
            "requests": len(latencies),
            "throughput_rps": len(latencies) / args.seconds,
            "p50_ms": 1000 * statistics.median(latencies),
            "p95_ms": 1000 * percentile(latencies, 95),
            "mean_batch": mean_batch,
            "batch_sizes": stats["batch_sizes"],
        }
        results.append(row)
        print(
            f"max batch {max_batch_size:2d}: {row['requests']:4d} requests in "
            f"{args.seconds:.0f} s = "
            f"{row['throughput_rps']:.2f} req/s, p50 {row['p50_ms']:.0f} ms, "
            f"p95 {row['p95_ms']:.0f} ms, "
            f"mean batch {mean_batch:.2f}",
            flush=True,
        )
    if len(results) > 1 and results[-1]["throughput_rps"] > 0:
        print(
            "throughput ratio (first arm / last arm): "
            f"{results[0]['throughput_rps'] / results[-1]['throughput_rps']:.2f}x"
        )
    if args.json:
        meta = {
            "machine": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "checkpoint": checkpoint,
            "device": args.device,
            "dtype": args.dtype,
            "batch_wait_ms": args.batch_wait_ms,
        }
        Path(args.json).write_text(json.dumps({"meta": meta, "arms": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
