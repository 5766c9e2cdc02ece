"""Helpers of the recipe tests: tiny caption data and real runs of ``run_scripts/caption/train.sh``.

The scripts run as bash processes with the environment a user would set (DEVICE=cpu,
ARCH=unival_tiny, ...), this Python's console scripts first on PATH, and none of the run
scripts' variables inherited from the caller.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

from PIL import Image

from unival.data.io.image import encode_image_base64
from unival.tokenizer import build_dictionary_from_texts, load_gpt2_bpe

REPO_ROOT = Path(__file__).resolve().parents[2]
CAPTION_TRAIN = REPO_ROOT / "run_scripts" / "caption" / "train.sh"
COLOURS = {
    "red": (220, 20, 20),
    "green": (20, 200, 20),
    "blue": (20, 20, 220),
    "yellow": (230, 230, 20),
}
#: ``train_inner`` log line -> (epoch, num_updates, loss)
INNER = re.compile(r"\| train_inner \| epoch (\d+):.* loss=([\d.]+),.* num_updates=(\d+),")


def write_caption_data(root: Path, rows: int = 8) -> dict:
    """train.tsv (``rows`` rows of coloured squares), valid.tsv (4 rows), dict.txt."""

    def line(uid, image_id, caption, colour):
        return "\t".join(
            [
                uid,
                str(image_id),
                caption,
                "",
                encode_image_base64(Image.new("RGB", (32, 32), colour)),
            ]
        )

    items = list(COLOURS.items())
    train = [line(f"t{i}", i, f"a {items[i % 4][0]} square", items[i % 4][1]) for i in range(rows)]
    valid = [
        line(f"v{i}", 100 + i, f"a {name} square&&{name} square", c)
        for i, (name, c) in enumerate(items)
    ]
    (root / "train.tsv").write_text("\n".join(train) + "\n")
    (root / "valid.tsv").write_text("\n".join(valid) + "\n")
    texts = [" what does the image describe?"] + [f" a {n} square" for n in COLOURS]
    build_dictionary_from_texts(texts, load_gpt2_bpe(), save_path=root / "dict.txt")
    return {"train": root / "train.tsv", "valid": root / "valid.tsv", "dict": root / "dict.txt"}


def tiny_recipe_env(data: dict, save_dir: Path, **values: str) -> dict:
    """The environment of a tiny, deterministic CPU run of caption/train.sh (no dropout)."""
    from unival.demo.context import run_script_variables

    drop = run_script_variables()
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("UNIVAL_")}
    env.update(
        PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
        PYTHON=sys.executable,
        OMP_NUM_THREADS="1",
        PYTHONUNBUFFERED="1",
        TRAIN_DATA=str(data["train"]),
        VALID_DATA=str(data["valid"]),
        DICT_PATH=str(data["dict"]),
        SAVE_DIR=str(save_dir),
        INIT_CHECKPOINT="scratch",
        DEVICE="cpu",
        ARCH="unival_tiny",
        IMAGE_ENCODER="",
        RESNET_TYPE="",
        FREEZE_EMBEDDINGS="0",
        PATCH_IMAGE_SIZE="32",
        DROPOUT="0",
        ENCODER_DROP_PATH="0",
        DECODER_DROP_PATH="0",
        LR="1e-3",
        LOG_INTERVAL="1",
        EVAL_ARGS='{"beam":1,"max_len_b":4}',
        # the tests fix the per-update batch themselves (not the authors' global batch) and train
        # with plain label-smoothed cross-entropy
        UPDATE_FREQ="1",
        CRITERION="ce",
    )
    env.update(values)
    return env


def run_recipe(script: Path, env: dict, log_path: Path, *args: str, timeout: int = 900) -> str:
    """Run a run script for real; returns its log (fails the test with the tail on error)."""
    with open(log_path, "w") as log:
        proc = subprocess.run(
            ["bash", str(script), *args],
            env=env,
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=timeout,
        )
    text = Path(log_path).read_text()
    assert proc.returncode == 0, f"{script.name} failed (exit {proc.returncode}):\n{text[-5000:]}"
    return text


def inner_losses(log: str) -> dict:
    """{num_updates: logged loss string} of the ``train_inner`` lines (LOG_INTERVAL=1)."""
    return {int(updates): loss for _, loss, updates in INNER.findall(log)}
