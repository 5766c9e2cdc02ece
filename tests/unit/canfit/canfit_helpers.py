"""Shared machinery of the can-fit tests: tiny image scenes, and training a task from scratch.

Each test trains a small ``unival_tiny`` (one encoder and one decoder layer, no dropout) on
16-18 rows through the real fairseq task, criterion and trainer, then scores the same rows with
the task's own validation (its generator and decoding constraints). The data file is given as
``train.tsv,train.tsv``, so the ``valid`` split is the training set itself.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import torch
from fairseq import options, tasks, utils
from fairseq.dataclass.utils import convert_namespace_to_omegaconf
from fairseq.trainer import Trainer
from PIL import Image, ImageDraw

from unival.data.io.image import encode_image_base64
from unival.toy_world.build import ToyWorldConfig, build_toy_world_with_media
from unival.toy_world.media import ToyMediaConfig

PLUGIN_DIR = Path(__file__).resolve().parents[3] / "fairseq_plugins" / "unival"
COLOURS = {
    "red": (220, 20, 20),
    "green": (20, 200, 20),
    "blue": (20, 20, 220),
    "yellow": (230, 230, 20),
}
Box = Tuple[int, int, int, int]

#: The architecture flags of every run script (run_scripts/lib/common_flags.sh), at the
#: smallest depth, without dropout or stochastic depth, so that memorising is fast.
MODEL_FLAGS = [
    "--arch=unival_tiny",
    "--encoder-layers=1",
    "--decoder-layers=1",
    "--encoder-normalize-before",
    "--decoder-normalize-before",
    "--share-decoder-input-output-embed",
    "--share-all-embeddings",
    "--layernorm-embedding",
    "--patch-layernorm-embedding",
    "--code-layernorm-embedding",
    "--add-type-embedding",
    "--scale-attn",
    "--scale-fc",
    "--scale-heads",
    "--disable-entangle",
    "--dropout=0",
    "--attention-dropout=0",
    "--resnet-drop-path-rate=0",
    "--encoder-drop-path-rate=0",
    "--decoder-drop-path-rate=0",
    # a handful of image codes (unused by these tasks) keeps the vocabulary, hence the
    # embedding and output layer, small
    "--code-dict-size=8",
]


def paint_squares(
    rng: random.Random, colours: Sequence[str], size: int = 48, grid: int = 3
) -> Tuple[Image.Image, Dict[str, Box]]:
    """A black ``size`` x ``size`` image with one square per colour, each in its own cell of a
    ``grid`` x ``grid`` layout at a random offset, side 70-90% of a cell.

    Returns the image and ``{colour: (x0, y0, x1, y1)}`` (x1, y1 exclusive)."""
    cell = size // grid
    image = Image.new("RGB", (size, size))
    draw = ImageDraw.Draw(image)
    boxes = {}
    cells = rng.sample([(x, y) for y in range(grid) for x in range(grid)], len(colours))
    for name, (cx, cy) in zip(colours, cells):
        side = rng.randint(int(cell * 0.7), int(cell * 0.9))
        x0 = cx * cell + rng.randint(0, cell - side)
        y0 = cy * cell + rng.randint(0, cell - side)
        boxes[name] = (x0, y0, x0 + side, y0 + side)
        draw.rectangle([x0, y0, x0 + side - 1, y0 + side - 1], fill=COLOURS[name])
    return image, boxes


def two_squares(rng: random.Random) -> Tuple[List[str], str, Dict[str, Box]]:
    """Two squares of different random colours in a 32 px image, one in the top half and one
    in the bottom half: (colours, base64 image, boxes)."""
    colours = rng.sample(list(COLOURS), 2)
    while True:
        image, boxes = paint_squares(rng, colours, size=32, grid=2)
        if boxes[colours[0]][1] // 16 != boxes[colours[1]][1] // 16:
            return colours, image_field(image), boxes


def image_field(image: Image.Image) -> str:
    return encode_image_base64(image)


def write_tsv(path: Path, rows: List[List[str]]) -> Path:
    path.write_text("".join("\t".join(row) + "\n" for row in rows))
    return path


@dataclass
class Fitted:
    """A task, its model and criterion after training; ``losses``: the training loss per
    update."""

    task: object
    model: torch.nn.Module
    criterion: object
    losses: List[float]


def fit(
    train_tsv: Path,
    task_flags: Sequence[str],
    updates: int,
    lr: float = 3e-3,
    criterion_flags: Sequence[str] = (
        "--criterion=adjust_label_smoothed_cross_entropy",
        "--label-smoothing=0.1",
    ),
    model_flags: Sequence[str] = MODEL_FLAGS,
    seed: int = 1,
) -> Fitted:
    """Train from scratch on every row of ``train_tsv`` (one full batch per update) for
    ``updates`` Adam updates (constant ``lr`` after 10 warm-up updates, gradient clipping at 1
    as the run scripts)."""
    argv = [
        f"{train_tsv},{train_tsv}",
        f"--user-dir={PLUGIN_DIR}",
        *task_flags,
        *criterion_flags,
        *model_flags,
        "--optimizer=adam",
        "--adam-betas=(0.9,0.999)",
        f"--lr={lr}",
        "--lr-scheduler=fixed",
        "--warmup-updates=10",
        "--clip-norm=1.0",
        f"--max-update={updates}",
        f"--seed={seed}",
        "--cpu",
        "--num-workers=0",
        "--batch-size=64",
    ]
    args = options.parse_args_and_arch(options.get_training_parser(), input_args=argv)
    cfg = convert_namespace_to_omegaconf(args)
    utils.set_torch_seed(seed)
    task = tasks.setup_task(cfg.task)
    task.load_dataset("train")
    task.load_dataset("valid")
    model = task.build_model(cfg.model)
    criterion = task.build_criterion(cfg.criterion)
    trainer = Trainer(cfg, task, model, criterion)
    batches = list(batches_of(task, "train"))
    assert len(batches) == 1, "the can-fit sets are one batch"
    losses = []
    for _ in range(updates):
        log = trainer.train_step(batches)
        losses.append(float(log["loss"]))
    return Fitted(task, trainer.model, criterion, losses)


def batches_of(task, split: str, batch_size: int = 64):
    itr = task.get_batch_iterator(task.dataset(split), max_sentences=batch_size)
    return itr.next_epoch_itr(shuffle=False)


def validate(fitted: Fitted) -> Dict[str, float]:
    """The task's ``valid_step`` over the ``valid`` split (the training rows): the logging
    outputs summed over batches."""
    totals: Dict[str, float] = {}
    for sample in batches_of(fitted.task, "valid"):
        _, _, log = fitted.task.valid_step(sample, fitted.model, fitted.criterion)
        for key, value in log.items():
            if isinstance(value, (int, float, torch.Tensor)):
                totals[key] = totals.get(key, 0.0) + float(value)
    return totals


#: The captioning recipes' loss (run_scripts/lib/recipe.sh, CRITERION=encouraging).
ENCOURAGING_LOSS = (
    "--criterion=adjust_label_smoothed_encouraging_loss",
    "--label-smoothing=0.1",
    "--drop-worst-ratio=0.05",
    "--drop-worst-after=6000",
    "--drop-best-ratio=0.05",
    "--drop-best-after=6000",
    "--log-end=0.75",
)


def generated_captions(fitted: Fitted) -> List[Tuple[str, str]]:
    """(generated text, first reference) of every ``valid`` row, decoded with the task's
    validation generator (``--eval-args``)."""
    task, model = fitted.task, fitted.model
    model.eval()
    pairs = []
    with torch.no_grad():
        for sample in batches_of(task, "valid"):
            hyps = task.generate_texts(task.validation_generator(model), [model], sample)
            pairs += [(hyp, refs[0]) for hyp, refs in zip(hyps, sample["references"])]
    return pairs


def one_caption_per_clip(path: Path) -> Tuple[Path, List[List[str]]]:
    """The toy world's training caption TSV (one row per reference) reduced to the first
    reference of each clip, written beside it as ``<name>_first.tsv``: (path, rows)."""
    rows, seen = [], set()
    for line in path.read_text().splitlines():
        row = line.split("\t")
        if row[1] not in seen:
            seen.add(row[1])
            rows.append(row)
    return write_tsv(path.with_name(path.stem + "_first.tsv"), rows), rows


def toy_media_world(root: Path, clips: int) -> Path:
    """The toy world with ``clips`` training videos (4 frames of 32 px) and sounds under
    ``root`` (TSVs, videos/, audios/, dict.txt, answer lists); a single image scene."""
    media = ToyMediaConfig(
        seed=0, num_train=clips, num_valid=1, num_test=1, video_size=32, num_frames=4
    )
    build_toy_world_with_media(
        root, ToyWorldConfig(seed=0, num_train=1, num_valid=1, num_test=1), media
    )
    return root


def recite_toy_captions(
    root: Path,
    task: str,
    task_flags: Sequence[str],
    model_flags: Sequence[str] = MODEL_FLAGS,
    updates: int = 150,
) -> Tuple[List[List[str]], List[Tuple[str, str]]]:
    """Fit ``task`` (video_caption / audio_caption) on the first caption of each of 16 toy-world
    clips with the recipe's loss and beam search; (training rows, (generated, reference) pairs)."""
    toy_media_world(root, clips=16)
    train, rows = one_caption_per_clip(root / f"{task}_train.tsv")
    flags = [f"--task={task}", "--selected-cols=0,4,2", f"--image-dir={root}", *task_flags]
    flags += [
        "--eval-cider",
        '--eval-args={"beam":5,"unnormalized":true,"temperature":1.0,"stop_on_max_len":true}',
    ]
    fitted = fit(train, flags, updates, 1.5e-3, ENCOURAGING_LOSS, model_flags)
    return rows, generated_captions(fitted)
