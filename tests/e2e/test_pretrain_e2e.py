"""unify_task pretraining end to end: fairseq-train on tiny image + video TSVs.

The main caption file, a QA stream, a grounding stream and a video stream feed ``unival_tiny``
for a few updates on CPU with ``--disable-validation`` as in the recipe; every step carries an
image sub-batch and a video sub-batch (the criterion's list input), and the loss goes down.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import TEST_THREADS
from PIL import Image

from unival.data.io.video import write_video
from unival.tokenizer import build_dictionary_from_texts, load_gpt2_bpe

BIN = Path(sys.executable).parent
COLOURS = {
    "red": (220, 20, 20),
    "green": (20, 200, 20),
    "blue": (20, 20, 220),
    "yellow": (230, 230, 20),
}
EPOCH_LOG = re.compile(
    r"\| train \| epoch (\d+) \| loss ([\d.]+) .*\| loss_v1 ([\d.]+) \| loss_v2 ([\d.]+)"
)


def row(uid, media, caption="", question="", refs="", objects="", kind="caption"):
    return "\t".join([uid, media, caption, question, refs, objects, "toy", kind])


def write_pretrain_data(root: Path) -> dict:
    main, vqa, ground, video = [], [], [], []
    for i, (name, colour) in enumerate(COLOURS.items()):
        img = Image.new("RGB", (40, 40), (0, 0, 0))
        img.paste(colour, (8 + 4 * i, 8, 28 + 4 * i, 28))
        img.save(root / f"{name}.png")
        frames = np.zeros((4, 32, 32, 3), dtype=np.uint8)
        frames[:, 8:24, 8:24] = colour
        write_video(root / f"{name}.mp4", frames, fps=4)
        main.append(row(f"c{i}", f"{name}.png", f"a {name} square", objects="square"))
        vqa.append(
            row(
                f"q{i}",
                f"{name}.png",
                question="what colour is the square",
                refs=f"1.0|!+{name}",
                kind="qa",
            )
        )
        ground.append(
            row(
                f"g{i}",
                f"{name}.png",
                f"the {name} square",
                refs=f"{8 + 4 * i},8,{28 + 4 * i},28",
                kind="visual_grounding",
            )
        )
        video.append(row(f"v{i}", f"{name}.mp4", f"a {name} square", kind="video_caption"))
    neg = root / "negative_sample"
    neg.mkdir()
    (neg / "all_captions.txt").write_text(
        "".join(f"a {n} square\n" for n in COLOURS) + "a circle\n"
    )
    (neg / "object.txt").write_text("square\ncircle\n")
    (neg / "type2ans.json").write_text(json.dumps({"other": list(COLOURS)}))
    texts = [
        " what does the image describe? what does the video describe? a circle",
        (
            ' which region does the text " the square " describe?'
            "  what does the region describe? region:"
        ),
        ' what is the answer to question " what colour is the square ". is " red "? yes no',
        ' does the image describe " a square "? does the video describe',
    ]
    texts += [f" {n} a {n} square" for n in COLOURS]
    build_dictionary_from_texts(texts, load_gpt2_bpe(), save_path=root / "dict.txt")
    paths = {}
    for name, rows in (("main", main), ("vqa", vqa), ("ground", ground), ("video", video)):
        paths[name] = root / f"{name}.tsv"
        paths[name].write_text("\n".join(rows) + "\n")
    paths["neg"] = neg
    return paths


def test_pretraining_trains_on_image_and_video_sub_batches(tmp_path, repo_root):
    if not (BIN / "fairseq-train").exists():
        pytest.skip(f"fairseq-train is not installed beside {sys.executable}")
    data = write_pretrain_data(tmp_path)
    cmd = [
        BIN / "fairseq-train",
        data["main"],
        "--user-dir",
        repo_root / "fairseq_plugins" / "unival",
        "--task",
        "unify_task",
        "--arch",
        "unival_tiny",
        "--selected-cols",
        "0,1,2,3,4,5,6,7",
        "--neg-sample-dir",
        data["neg"],
        "--image-dir",
        tmp_path,
        "--read-from-img-path",
        "--image-text-vqa-data",
        data["vqa"],
        "--image-text-vqa-cnt",
        "1",
        "--image-text-ground-data",
        data["ground"],
        "--image-text-ground-cnt",
        "2",
        "--video-data",
        data["video"],
        "--video-cnt",
        "1",
        "--num-frames",
        "2",
        "--patch-frame-size",
        "32",
        "--patch-image-size",
        "32",
        "--random-resize-max",
        "40",
        "--text-selected-cols",
        "0,1",
        "--image-selected-cols",
        "0,1,2",
        "--detection-selected-cols",
        "0,1,2",
        "--criterion",
        "adjust_label_smoothed_cross_entropy",
        "--label-smoothing",
        "0.0",
        "--optimizer",
        "adam",
        "--lr",
        "1e-3",
        "--batch-size",
        "2",
        "--max-update",
        "6",
        "--seed",
        "1",
        "--disable-validation",
        "--save-dir",
        tmp_path / "checkpoints",
        "--no-epoch-checkpoints",
        "--cpu",
        "--num-workers",
        "0",
        "--log-format",
        "simple",
        "--log-interval",
        "1",
    ]
    env = dict(os.environ, OMP_NUM_THREADS=str(TEST_THREADS), PYTHONUNBUFFERED="1")
    proc = subprocess.run(
        [str(c) for c in cmd], cwd=repo_root, env=env, capture_output=True, text=True, timeout=300
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    epochs = EPOCH_LOG.findall(log)
    assert len(epochs) == 3, log[-3000:]
    losses = [float(loss) for _, loss, _, _ in epochs]
    assert losses[-1] < losses[0], losses
    # both sub-batches are trained and logged (loss_v = that sub-batch's loss per target token)
    for _, _, v1, v2 in epochs:
        assert float(v1) > 0 and float(v2) > 0
    assert (tmp_path / "checkpoints" / "checkpoint_last.pt").is_file()
    assert "auxiliary stream video" in log
