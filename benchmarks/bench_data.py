"""Input-pipeline throughput of the caption task on the toy world.

    python benchmarks/bench_data.py --workers 0,1,2 --image-size 64,384

Writes a toy world (``unival.toy_world``) to a temporary folder, builds the ``caption``
task the way ``fairseq-train`` does and times one pass of fairseq's batch iterator over
the training split (TSV rows read by seek index, images decoded and transformed in the
DataLoader workers, collated): samples/s per worker count and image size.
"""

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PLUGIN = HERE.parent / "fairseq_plugins" / "unival"


def samples_per_second(data: Path, image_size: int, workers: int, batch: int) -> float:
    from fairseq import options, tasks
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf

    parser = options.get_training_parser()
    args = options.parse_args_and_arch(
        parser,
        [
            str(data / "caption_train.tsv") + "," + str(data / "caption_valid.tsv"),
            "--user-dir",
            str(PLUGIN),
            "--task",
            "caption",
            "--arch",
            "unival_tiny",
            "--selected-cols",
            "0,4,2",
            "--patch-image-size",
            str(image_size),
            "--cpu",
        ],
    )
    cfg = convert_namespace_to_omegaconf(args)
    task = tasks.setup_task(cfg.task)
    task.load_dataset("train")
    dataset = task.dataset("train")
    itr = task.get_batch_iterator(
        dataset=dataset, max_sentences=batch, num_workers=workers, seed=1
    ).next_epoch_itr(shuffle=True)
    start, count = time.perf_counter(), 0
    for sample in itr:
        count += sample["nsentences"]
    return count / (time.perf_counter() - start)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="0,1")
    parser.add_argument("--image-size", default="64,384")
    parser.add_argument("--num-train", type=int, default=400)
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "unival.cli",
                "toy-world",
                "--out",
                str(data),
                "--seed",
                "0",
                "--num-train",
                str(args.num_train),
                "--num-valid",
                "20",
                "--num-test",
                "20",
            ],
            check=True,
            capture_output=True,
        )
        print(f"caption train split, {args.num_train} toy images, batch {args.batch_size}")
        print(f"{'image_px':>8} {'workers':>7} {'samples/s':>10}")
        for size in map(int, args.image_size.split(",")):
            for workers in map(int, args.workers.split(",")):
                rate = samples_per_second(data, size, workers, args.batch_size)
                print(f"{size:>8} {workers:>7} {rate:>10.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
