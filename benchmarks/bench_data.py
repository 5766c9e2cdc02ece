"""Input-pipeline throughput of the caption task on the toy world.

    python benchmarks/bench_data.py --workers 0,1 --image-size 64,384

Writes a seeded toy world (``unival.toy_world``) to a temporary folder, builds the
``caption`` task the way ``fairseq-train`` does and times full passes of fairseq's batch
iterator over the training split (TSV rows read by seek index, images decoded and
transformed in the DataLoader workers, collated). Per image size and worker count: one
untimed warm-up pass (it pays the first-call costs: PIL's decoder and plugin set-up, the
page cache of the freshly written images, the first tensor ops), then ``--passes`` timed
passes over the same batches in the same order (epoch 1 each time); it prints the median
samples/s with min and max. Each pass starts its DataLoader workers, as every fairseq epoch
does. ``--threads`` (default 1) sets torch's intra-op threads of this process: with 0 workers
the transforms run here, and on a busy 2-core machine a 2-thread OpenMP pool stalls on its
barriers (one pass measured 6x slower than the next); DataLoader workers always use one
thread. ``--threads 2`` is fairseq-train's main process in the demo (OMP_NUM_THREADS=2).
"""

import argparse
import gc
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PLUGIN = HERE.parent / "fairseq_plugins" / "unival"


def caption_task(data: Path, image_size: int):
    """The ``caption`` task and its loaded training split, set up as fairseq-train does."""
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
    task = tasks.setup_task(convert_namespace_to_omegaconf(args).task)
    task.load_dataset("train")
    return task


def pass_rate(task, workers: int, batch: int) -> float:
    """Samples/s of one full pass (epoch 1, fixed seed: the same batches every time)."""
    itr = task.get_batch_iterator(
        dataset=task.dataset("train"),
        max_sentences=batch,
        num_workers=workers,
        seed=1,
        epoch=1,
        disable_iterator_cache=True,
    ).next_epoch_itr(shuffle=True)
    start, count = time.perf_counter(), 0
    for sample in itr:
        count += sample["nsentences"]
    rate = count / (time.perf_counter() - start)
    # shut this pass's DataLoader down here, not in a worker forked by the next pass (whose
    # copy would run the iterator's __del__ and fail "can only test a child process")
    del itr
    gc.collect()
    return rate


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="0,1")
    parser.add_argument("--image-size", default="64,384")
    parser.add_argument("--num-train", type=int, default=100, help="toy images (3 rows each)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--passes", type=int, default=5, help="timed passes (after 1 warm-up)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of this process")
    parser.add_argument("--seed", type=int, default=0, help="toy world seed")
    args = parser.parse_args(argv)

    import torch

    from unival.toy_world.build import ToyWorldConfig, build_toy_world

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        config = ToyWorldConfig(seed=args.seed, num_train=args.num_train, num_valid=20, num_test=20)
        build_toy_world(str(data), config)
        rows = sum(1 for _ in open(data / "caption_train.tsv"))
        print(
            f"caption train split, {args.num_train} toy images ({rows} rows, seed {args.seed}), "
            f"batch {args.batch_size}, {args.threads} torch threads; samples/s: warm-up pass, "
            f"then median [min-max] of {args.passes} passes"
        )
        print(f"{'image_px':>8} {'workers':>7} {'warm-up':>8} {'median':>8} {'min':>8} {'max':>8}")
        for size in map(int, args.image_size.split(",")):
            task = caption_task(data, size)
            for workers in map(int, args.workers.split(",")):
                first = pass_rate(task, workers, args.batch_size)
                rates = [pass_rate(task, workers, args.batch_size) for _ in range(args.passes)]
                print(
                    f"{size:>8} {workers:>7} {first:>8.1f} {statistics.median(rates):>8.1f} "
                    f"{min(rates):>8.1f} {max(rates):>8.1f}",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
