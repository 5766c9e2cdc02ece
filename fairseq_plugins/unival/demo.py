"""``make demo``: the whole toolkit on the synthetic toy world, on CPU, in minutes.

``python -m unival.demo --out outputs/demo [--stages multitask,media] [--smoke]`` runs a list
of stages. The default ``multitask,media`` (:mod:`unival.demo_multitask`) pretrains a
multitask base and fine-tunes image, video and audio experts from it; ``caption`` is the
single-task captioning demo:

1. writes the seeded toy world under ``OUT/toy_world`` (``data_utils/toy_world.py``);
2. trains ``unival_tiny`` with the caption run script, i.e. the real ``fairseq-train
   --user-dir fairseq_plugins/unival`` command, logging to ``OUT/train.log``;
3. evaluates the best checkpoint on the held-out test images with the caption evaluation
   script (``unival eval``), and the same architecture with its initial weights (the
   "untrained" checkpoint, built with the training seed);
4. scores the "most frequent training caption" baseline with the same metric functions.

It prints a metrics table per stage and writes ``OUT/report.json``: for ``caption``
``{"caption": {"cider": {"trained": x, "untrained": y, "most_frequent_caption": z},
"bleu4": {...}}, "seconds": total}``; for ``multitask`` / ``media`` one entry per task
(:func:`unival.demo_tasks.task_result`: score, baseline, floor, aim).
"""
import argparse
import json
import logging
import os
import random
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence

logger = logging.getLogger("unival.demo")

REPO_ROOT = Path(__file__).resolve().parents[2]
RUN_SCRIPTS = REPO_ROOT / "run_scripts"
TOY_WORLD_SCRIPT = REPO_ROOT / "data_utils" / "toy_world.py"
CAPTION_COLUMN, IMAGE_ID_COLUMN = 2, 1  # caption TSV: uniq_id, image_id, caption, objects, image
METRICS = ("cider", "bleu4")
SYSTEMS = ("trained", "untrained", "most_frequent_caption")


@dataclass
class DemoContext:
    """What every stage shares: the output folder, the seed and the subprocess environment."""

    out: Path
    seed: int
    env: Dict[str, str]
    world: Optional[Path] = None  # the toy world the multitask stage wrote (the media stage reuses it)
    base: Optional[Path] = None   # the multitask stage's base checkpoint
    experts: Optional[Dict[str, Path]] = None  # the multitask stage's expert checkpoints (task -> .pt)

    def run(self, cmd: List[str], log_path: Path, extra_env: Optional[Dict[str, str]] = None) -> None:
        """Run ``cmd`` with stdout+stderr appended to ``log_path``; raise naming the log on failure."""
        env = {**self.env, **(extra_env or {})}
        with open(log_path, "a") as log:
            log.write(f"$ {' '.join(cmd)}\n")
            log.flush()
            proc = subprocess.run(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT)
        if proc.returncode != 0:
            raise RuntimeError(f"{Path(cmd[0]).name} {' '.join(cmd[1:2])} failed "
                               f"(exit {proc.returncode}); see {log_path}")


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
        ctx.run([sys.executable, str(TOY_WORLD_SCRIPT), "--out", str(data_dir), "--seed", str(ctx.seed),
                 "--num-train", str(s.num_train), "--num-valid", str(s.num_valid),
                 "--num-test", str(s.num_test), "--image-size", str(s.image_size)], log_path)
        train_tsv = data_dir / "caption_train_shuffled.tsv"
        shuffle_rows(data_dir / "caption_train.tsv", train_tsv, seed=ctx.seed)

        save_dir = work_dir / "checkpoints"
        logger.info("caption: training unival_tiny for %d updates (log: %s)", s.max_update, log_path)
        started = time.monotonic()
        ctx.run(["bash", str(RUN_SCRIPTS / "caption" / "train.sh")], log_path,
                self.train_env(data_dir, train_tsv, save_dir))
        train_seconds = time.monotonic() - started
        best = save_dir / "checkpoint_best.pt"
        untrained = work_dir / "checkpoint_untrained.pt"
        updates = save_untrained_checkpoint(best, untrained)

        scores, predictions = {}, {}
        for system, checkpoint in (("trained", best), ("untrained", untrained)):
            logger.info("caption: evaluating the %s model on the %d test images", system, s.num_test)
            results = work_dir / f"eval_{system}"
            ctx.run(["bash", str(RUN_SCRIPTS / "caption" / "eval.sh")], work_dir / "eval.log",
                    self.eval_env(data_dir, checkpoint, results))
            scores[system] = json.loads((results / "scores.json").read_text())
            predictions[system] = json.loads((results / "predictions.json").read_text())

        references = read_references(data_dir / "caption_test.tsv")
        baseline = most_frequent_caption(read_tsv_column(data_dir / "caption_train.tsv", CAPTION_COLUMN))
        scores["most_frequent_caption"] = score_constant_caption(baseline, references)

        self.examples = pick_examples(predictions["trained"], references, count=4)
        self.summary = {"train_seconds": round(train_seconds, 1), "updates": updates,
                        "num_test": len(references), "baseline_caption": baseline}
        (work_dir / "examples.json").write_text(json.dumps(self.examples, indent=1) + "\n")
        return {metric: {system: round(float(scores[system][metric]), 4) for system in SYSTEMS}
                for metric in METRICS}

    def train_env(self, data_dir: Path, train_tsv: Path, save_dir: Path) -> Dict[str, str]:
        """Environment for ``run_scripts/caption/train.sh``: the toy recipe on CPU from scratch."""
        s = self.settings
        return {
            "UNIVAL_DATA": str(data_dir), "TRAIN_DATA": str(train_tsv), "SAVE_DIR": str(save_dir),
            "INIT_CHECKPOINT": "scratch", "DEVICE": "cpu", "ARCH": "unival_tiny",
            "IMAGE_ENCODER": "", "RESNET_TYPE": "",  # keep unival_tiny's own small backbone
            "FREEZE_EMBEDDINGS": "0",  # from scratch the embeddings must learn too
            "DROPOUT": "0.0", "ENCODER_DROP_PATH": "0.0", "DECODER_DROP_PATH": "0.0",
            "LABEL_SMOOTHING": "0.0", "DROP_WORST_RATIO": "0.0", "CRITERION": "ce",
            "UPDATE_FREQ": "1", "FIXED_VALIDATION_SEED": "",  # the toy recipe's, not the paper's
            "BATCH_SIZE": str(s.batch_size), "MAX_UPDATE": str(s.max_update), "MAX_EPOCH": "100",
            "LR": str(s.lr), "WARMUP_RATIO": str(s.warmup_ratio), "PATCH_IMAGE_SIZE": str(s.image_size),
            "EVAL_ARGS": json.dumps({"beam": s.beam, "max_len_b": 22, "no_repeat_ngram_size": 3}),
            # validate and save only when training ends (the schedule anneals to lr 0 there):
            # every update the budget allows goes to training
            "VALIDATE_INTERVAL": "1000", "SAVE_INTERVAL": "1000", "VALIDATE_INTERVAL_UPDATES": "0",
            "LOG_INTERVAL": "50", "SEED": "1",
            "NUM_WORKERS": str(s.num_workers),  # decode images while the model trains
            "EXTRA_ARGS": f"--stop-time-hours={s.train_time_cap_minutes / 60:.4f}",
        }

    def eval_env(self, data_dir: Path, checkpoint: Path, results: Path) -> Dict[str, str]:
        """Environment for ``run_scripts/caption/eval.sh`` on the toy world's test split."""
        return {
            "UNIVAL_DATA": str(data_dir), "CHECKPOINT": str(checkpoint), "RESULTS_DIR": str(results),
            "DEVICE": "cpu", "PATCH_IMAGE_SIZE": str(self.settings.image_size),
            "BEAM": str(self.settings.beam), "BATCH_SIZE": "25",
        }

    def describe(self) -> str:
        """Lines for the printed report after the metrics table."""
        lines = [f"  most frequent training caption: \"{self.summary['baseline_caption']}\"",
                 f"  training: {self.summary['updates']} updates in {self.summary['train_seconds']:.0f} s; "
                 f"{self.summary['num_test']} held-out test images"]
        for example in self.examples:
            lines.append(f"  image {example['id']}: predicted \"{example['prediction']}\"")
            lines.append(f"  {' ' * len(str(example['id']))}        reference \"{example['closest_reference']}\"")
        return "\n".join(lines)


# --------------------------------------------------------------------------- helpers


def read_tsv_column(path: Path, column: int) -> List[str]:
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n").split("\t")[column] for line in f if line.strip()]


def read_references(path: Path) -> Dict[str, List[str]]:
    """``{image_id: [reference, ...]}`` of an evaluation caption TSV ("&&"-joined references)."""
    with open(path, encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t") for line in f if line.strip()]
    return {row[IMAGE_ID_COLUMN]: [r for r in row[CAPTION_COLUMN].split("&&") if r.strip()] for row in rows}


def shuffle_rows(src: Path, dst: Path, seed: int) -> None:
    """Write ``src``'s lines to ``dst`` in a seeded random order (the offline shuffle of spec 3.0:
    batches are consecutive rows, and the toy world lists an image's captions together)."""
    rows = src.read_text(encoding="utf-8").splitlines(keepends=True)
    random.Random(seed).shuffle(rows)
    dst.write_text("".join(rows), encoding="utf-8")


def most_frequent_caption(train_captions: Sequence[str]) -> str:
    """The most frequent training caption after the task's normalisation (lowercase, no punctuation);
    ties go to the caption seen first."""
    from unival.metrics import simple_tokenize

    return Counter(simple_tokenize(c) for c in train_captions).most_common(1)[0][0]


def score_constant_caption(caption: str, references: Dict[str, List[str]]) -> Dict[str, float]:
    """CIDEr-D and BLEU-4 of predicting ``caption`` for every image, with the evaluator's metrics."""
    from unival.metrics import bleu4, cider

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
        examples.append({"id": image_id, "prediction": by_id[image_id], "closest_reference": closest,
                         "references": refs})
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


def format_report(report: Dict, stages: Sequence) -> str:
    """The printed summary: one metrics table per stage, then the stage's own lines."""
    lines = []
    for stage in stages:
        if getattr(stage, "has_task_table", False):  # multitask / media: the stage prints its table
            lines.append(stage.describe())
            continue
        table = report[stage.name]
        lines.append(f"{stage.name}:{'':<24}" + "".join(f"{m:>10}" for m in METRICS))
        for system in SYSTEMS:
            lines.append(f"  {system:<30}" + "".join(f"{table[m][system]:>10.3f}" for m in METRICS))
        lines.append(stage.describe())
    lines.append(f"total {report['seconds']:.0f} s")
    return "\n".join(lines)


def run_script_variables() -> set:
    """Names of the environment variables the run scripts read (``${NAME...}``, ``path_default``)."""
    names = set()
    for script in RUN_SCRIPTS.rglob("*.sh"):
        text = script.read_text()
        names.update(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", text))
        for var, base in re.findall(r"path_default\s+([A-Z][A-Z0-9_]*)\s+([A-Z][A-Z0-9_]*)", text):
            names.update((var, base))
    return names


def demo_environment() -> Dict[str, str]:
    """This process's environment without any run-script setting (the demo's recipe is fixed),
    with this Python's bin directory first on PATH (fairseq-train, unival) and 2 OpenMP threads."""
    env = {k: v for k, v in os.environ.items() if k not in run_script_variables()}
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    env["OMP_NUM_THREADS"] = os.environ.get("OMP_NUM_THREADS", "2")
    env["PYTHON"] = sys.executable
    return env


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="unival demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="outputs/demo", help="output folder (default: outputs/demo)")
    parser.add_argument("--seed", type=int, default=0, help="toy world seed (default: 0)")
    parser.add_argument("--stages", default=DEFAULT_STAGES,
                        help=f"comma list of stages to run, from {', '.join(STAGE_NAMES)} "
                             f"(default: {DEFAULT_STAGES})")
    parser.add_argument("--smoke", action="store_true",
                        help="multitask/media stages at toy-of-toy size (a pipeline check, seconds per step)")
    return parser


STAGE_NAMES = ("caption", "multitask", "media", "probes")
DEFAULT_STAGES = "multitask,media,probes"


def stage_classes() -> Dict[str, type]:
    """Stage name -> class (the multitask and media stages import this module)."""
    from unival.demo_multitask import MediaStage, MultitaskStage
    from unival.demo_probes import ProbesStage

    return {"caption": CaptionStage, "multitask": MultitaskStage, "media": MediaStage,
            "probes": ProbesStage}


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    # force: importing fairseq has already configured the root logger
    logging.basicConfig(level=logging.INFO, format="%(asctime)s | demo | %(message)s", datefmt="%H:%M:%S",
                        force=True)
    names = [n for n in args.stages.split(",") if n]
    unknown = [n for n in names if n not in STAGE_NAMES]
    if unknown:
        raise SystemExit(f"unknown stage(s) {unknown}; known: {', '.join(STAGE_NAMES)}")
    for later in ("media", "probes"):
        if later in names and ("multitask" not in names or names.index("multitask") > names.index(later)):
            raise SystemExit(f"the {later} stage starts from the multitask stage's models: "
                             f"list multitask before {later} (--stages multitask,{later})")
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    ctx = DemoContext(out=out, seed=args.seed, env=demo_environment())

    started = time.monotonic()
    classes = stage_classes()
    stages = []
    for name in names:
        if args.smoke and name in ("multitask", "media"):
            from unival.demo_multitask import SMOKE

            stages.append(classes[name](SMOKE))
        else:
            stages.append(classes[name]())
    report: Dict = {}
    for stage in stages:
        report[stage.name] = stage.run(ctx)
        (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")  # partial: survives a later failure
    report["seconds"] = round(time.monotonic() - started, 1)
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    sys.stdout.write(format_report(report, stages) + "\n")
    logger.info("report written to %s", out / "report.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
