"""The single-task captioning demo (``--stages caption``): toy world -> ``unival_tiny``
trained with ``run_scripts/caption/train.sh`` -> the trained model, the same architecture
with its initial weights and the most frequent training caption, scored on the test images.
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from unival.demo.context import (
    RUN_SCRIPTS,
    TOY_WORLD_SCRIPT,
    DemoContext,
    read_captions,
    read_references,
    shuffle_rows,
)
from unival.metrics import bleu4, cider, simple_tokenize

logger = logging.getLogger("unival.demo")

METRICS = ("cider", "bleu4")
SYSTEMS = ("trained", "untrained", "most_frequent_caption")


@dataclass
class CaptionSettings:
    """Toy-world size and training recipe of the caption stage, tuned for 2 CPU cores.

    A tiny model trained from scratch on 64 px images: no dropout, drop-path or label
    smoothing, a fixed number of updates (the learning rate decays to 0 over them), and a
    wall-clock cap on training so that a busy machine still finishes in time. The model
    learns colours, sizes and counts first; shapes come after about 1,500 updates (valid
    CIDEr-D jumps from ~3.7 to >5), so the recipe needs ~2,000+ updates: about 4 updates/s
    on 2 free cores.
    """

    num_train: int = 3000
    num_valid: int = 40
    num_test: int = 100
    image_size: int = 64
    batch_size: int = 16
    max_update: int = 2700
    lr: float = 5e-4
    warmup_ratio: float = 0.06
    beam: int = 3
    num_workers: int = 1
    train_time_cap_minutes: float = 13.5


class CaptionStage:
    """Toy world -> fairseq-train unival_tiny -> evaluation of trained/untrained/baseline."""

    name = "caption"

    def __init__(self, settings: Optional[CaptionSettings] = None):
        self.settings = settings or CaptionSettings()

    def run(self, ctx: DemoContext) -> Dict:
        s = self.settings
        data_dir, work_dir = ctx.out / "toy_world", ctx.out / self.name
        for path in (data_dir, work_dir):  # stale checkpoints would make fairseq resume
            shutil.rmtree(path, ignore_errors=True)
        work_dir.mkdir(parents=True)
        log_path = ctx.out / "train.log"
        log_path.unlink(missing_ok=True)

        logger.info("caption: writing the toy world to %s", data_dir)
        ctx.run(
            [
                sys.executable,
                str(TOY_WORLD_SCRIPT),
                "--out",
                str(data_dir),
                "--seed",
                str(ctx.seed),
                "--num-train",
                str(s.num_train),
                "--num-valid",
                str(s.num_valid),
                "--num-test",
                str(s.num_test),
                "--image-size",
                str(s.image_size),
            ],
            log_path,
        )
        train_tsv = data_dir / "caption_train_shuffled.tsv"
        shuffle_rows(data_dir / "caption_train.tsv", train_tsv, seed=ctx.seed)

        save_dir = work_dir / "checkpoints"
        logger.info(
            "caption: training unival_tiny for %d updates (log: %s)", s.max_update, log_path
        )
        started = time.monotonic()
        ctx.run(
            ["bash", str(RUN_SCRIPTS / "caption" / "train.sh")],
            log_path,
            self.train_env(data_dir, train_tsv, save_dir),
        )
        train_seconds = time.monotonic() - started
        best = save_dir / "checkpoint_best.pt"
        untrained = work_dir / "checkpoint_untrained.pt"
        updates = save_untrained_checkpoint(best, untrained)

        scores, predictions = {}, {}
        for system, checkpoint in (("trained", best), ("untrained", untrained)):
            logger.info(
                "caption: evaluating the %s model on the %d test images", system, s.num_test
            )
            results = work_dir / f"eval_{system}"
            ctx.run(
                ["bash", str(RUN_SCRIPTS / "caption" / "eval.sh")],
                work_dir / "eval.log",
                self.eval_env(data_dir, checkpoint, results),
            )
            scores[system] = json.loads((results / "scores.json").read_text())
            predictions[system] = json.loads((results / "predictions.json").read_text())

        references = read_references(data_dir / "caption_test.tsv")
        baseline = most_frequent_caption(read_captions(data_dir / "caption_train.tsv"))
        scores["most_frequent_caption"] = score_constant_caption(baseline, references)

        self.examples = pick_examples(predictions["trained"], references, count=4)
        self.summary = {
            "train_seconds": round(train_seconds, 1),
            "updates": updates,
            "num_test": len(references),
            "baseline_caption": baseline,
        }
        (work_dir / "examples.json").write_text(json.dumps(self.examples, indent=1) + "\n")
        return {
            metric: {system: round(float(scores[system][metric]), 4) for system in SYSTEMS}
            for metric in METRICS
        }

    def train_env(self, data_dir: Path, train_tsv: Path, save_dir: Path) -> Dict[str, str]:
        """Environment for ``run_scripts/caption/train.sh``: the toy recipe on CPU from scratch."""
        s = self.settings
        return {
            "UNIVAL_DATA": str(data_dir),
            "TRAIN_DATA": str(train_tsv),
            "SAVE_DIR": str(save_dir),
            "INIT_CHECKPOINT": "scratch",
            "DEVICE": "cpu",
            "ARCH": "unival_tiny",
            "IMAGE_ENCODER": "",
            "RESNET_TYPE": "",  # keep unival_tiny's own small backbone
            "FREEZE_EMBEDDINGS": "0",  # from scratch the embeddings must learn too
            "DROPOUT": "0.0",
            "ENCODER_DROP_PATH": "0.0",
            "DECODER_DROP_PATH": "0.0",
            "LABEL_SMOOTHING": "0.0",
            "DROP_WORST_RATIO": "0.0",
            "CRITERION": "ce",
            "UPDATE_FREQ": "1",
            "FIXED_VALIDATION_SEED": "",  # the toy recipe's, not the paper's
            "BATCH_SIZE": str(s.batch_size),
            "MAX_UPDATE": str(s.max_update),
            "MAX_EPOCH": "100",
            "LR": str(s.lr),
            "WARMUP_RATIO": str(s.warmup_ratio),
            "PATCH_IMAGE_SIZE": str(s.image_size),
            "EVAL_ARGS": json.dumps({"beam": s.beam, "max_len_b": 22, "no_repeat_ngram_size": 3}),
            # validate and save only when training ends (the schedule anneals to lr 0 there):
            # every update the budget allows goes to training
            "VALIDATE_INTERVAL": "1000",
            "SAVE_INTERVAL": "1000",
            "VALIDATE_INTERVAL_UPDATES": "0",
            "LOG_INTERVAL": "50",
            "SEED": "1",
            "NUM_WORKERS": str(s.num_workers),  # decode images while the model trains
            "EXTRA_ARGS": f"--stop-time-hours={s.train_time_cap_minutes / 60:.4f}",
        }

    def eval_env(self, data_dir: Path, checkpoint: Path, results: Path) -> Dict[str, str]:
        """Environment for ``run_scripts/caption/eval.sh`` on the toy world's test split."""
        return {
            "UNIVAL_DATA": str(data_dir),
            "CHECKPOINT": str(checkpoint),
            "RESULTS_DIR": str(results),
            "DEVICE": "cpu",
            "PATCH_IMAGE_SIZE": str(self.settings.image_size),
            "BEAM": str(self.settings.beam),
            "BATCH_SIZE": "25",
        }

    def describe(self) -> str:
        """Lines for the printed report after the metrics table."""
        lines = [
            f'  most frequent training caption: "{self.summary["baseline_caption"]}"',
            f"  training: {self.summary['updates']} updates in "
            f"{self.summary['train_seconds']:.0f} s; "
            f"{self.summary['num_test']} held-out test images",
        ]
        for example in self.examples:
            lines.append(f'  image {example["id"]}: predicted "{example["prediction"]}"')
            lines.append(
                f"  {' ' * len(str(example['id']))}        "
                f'reference "{example["closest_reference"]}"'
            )
        return "\n".join(lines)


def most_frequent_caption(train_captions: Sequence[str]) -> str:
    """The most frequent training caption after the task's normalisation (lowercase, no
    punctuation); ties go to the caption seen first."""

    return Counter(simple_tokenize(c) for c in train_captions).most_common(1)[0][0]


def score_constant_caption(caption: str, references: Dict[str, List[str]]) -> Dict[str, float]:
    """CIDEr-D and BLEU-4 of predicting ``caption`` for every image, with the evaluator's
    metrics."""

    hyps = {image_id: caption for image_id in references}
    return {"cider": cider(hyps, references), "bleu4": bleu4(hyps, references)}


def pick_examples(predictions, references: Dict[str, List[str]], count: int) -> List[Dict]:
    """The first ``count`` test images (in id order): prediction, the reference sharing the most
    words with it, and all references."""
    by_id = {str(p["image_id"]): p["caption"] for p in predictions}
    ids = sorted(by_id, key=lambda i: (len(i), i))[:count]
    examples = []
    for image_id in ids:
        refs = references.get(image_id, [])
        words = Counter(by_id[image_id].split())
        closest = max(refs, key=lambda r: sum((Counter(r.split()) & words).values()), default="")
        examples.append(
            {
                "id": image_id,
                "prediction": by_id[image_id],
                "closest_reference": closest,
                "references": refs,
            }
        )
    return examples


def save_untrained_checkpoint(trained: Path, out: Path) -> int:
    """Write ``out``: ``trained``'s config with the weights the model had before its first update.

    fairseq's trainer seeds numpy and torch with ``common.seed`` and then builds the task and the
    model; doing the same here rebuilds exactly the initial weights of the training run.
    Returns the number of updates ``trained`` had.
    """
    import numpy as np
    import torch
    from fairseq import checkpoint_utils, tasks, utils

    state = checkpoint_utils.load_checkpoint_to_cpu(str(trained))
    updates = int(state["optimizer_history"][-1]["num_updates"])
    cfg = state["cfg"]
    np.random.seed(cfg.common.seed)
    utils.set_torch_seed(cfg.common.seed)
    task = tasks.setup_task(cfg.task)
    model = task.build_model(cfg.model)
    state["model"] = model.state_dict()
    state.pop("last_optimizer_state", None)
    state["extra_state"] = {}
    torch.save(state, out)
    return updates
