"""A running ``unival serve`` on a free loopback port with toy checkpoints, and toy inputs for it.

The server is the installed console script in a subprocess (the way a user starts it): image
captioning, grounding and audio captioning toy checkpoints (random ``unival_tiny`` weights),
beam 2 (audio captions of at most 8 tokens), batches of up to 8 gathered for up to 100 ms.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List

import numpy as np
from helpers import BIN, TEST_THREADS, free_port
from PIL import Image

from unival.data.io.audio import write_audio
from unival.testing.toy_checkpoint import write_toy_checkpoint
from unival.toy_world import generate_scenes, render_scene

AUDIO_MODEL = {"audio_encoder_name": "pann_cnn6", "hop_size": 200}
# a random audio model never ends a caption early: 8 tokens instead of the default 200 keep it fast
SERVER_FLAGS = [
    "--beam",
    "2",
    "--max-batch-size",
    "8",
    "--batch-wait-ms",
    "100",
    "--task-generation",
    "audio_caption:max_len_b=8",
]
STARTUP_TIMEOUT_S = 240


@dataclass
class RunningServer:
    url: str
    checkpoints: Dict[str, Path]
    process: subprocess.Popen
    log: Path

    def log_tail(self) -> str:
        return self.log.read_text()[-3000:]


def write_toy_models(root: Path) -> Dict[str, Path]:
    # seed 2: a random caption model whose (degenerate) captions differ between very different
    # images
    return {
        "caption": write_toy_checkpoint(root / "caption", "caption", seed=2),
        "refcoco": write_toy_checkpoint(root / "refcoco", "refcoco"),
        "audio_caption": write_toy_checkpoint(
            root / "audio", "audio_caption", model_overrides=AUDIO_MODEL
        ),
    }


def write_toy_images(folder: Path, count: int) -> List[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for scene in generate_scenes("test", count, seed=3, image_size=64):
        path = folder / f"scene_{scene.scene_id}.png"
        render_scene(scene).save(path)
        paths.append(path)
    return paths


def write_contrasting_images(folder: Path) -> List[Path]:
    """Black, white, noise and a horizontal ramp: inputs a random caption model tells apart."""
    folder.mkdir(parents=True, exist_ok=True)
    ramp = np.tile(np.linspace(0, 255, 64).astype(np.uint8)[None, :, None], (64, 1, 3))
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    arrays = [np.zeros((64, 64, 3), np.uint8), np.full((64, 64, 3), 255, np.uint8), noise, ramp]
    paths = []
    for name, array in zip(("black", "white", "noise", "ramp"), arrays):
        Image.fromarray(array).save(folder / f"{name}.png")
        paths.append(folder / f"{name}.png")
    return paths


def write_toy_sound(path: Path) -> Path:
    t = np.arange(9000) / 16000
    write_audio(path, 0.5 * np.sin(2 * np.pi * 440 * t), 16000)
    return path


def start_server(root: Path) -> RunningServer:
    """Start ``unival serve`` with the toy models under ``root``; wait until its API answers."""
    checkpoints = write_toy_models(root / "models")
    port = free_port()
    log = root / "serve.log"
    cmd = [str(BIN / "unival"), "serve", "--port", str(port), *SERVER_FLAGS]
    for task, path in checkpoints.items():
        cmd += ["--model", f"{task}={path}"]
    env = dict(os.environ, OMP_NUM_THREADS=str(TEST_THREADS), PYTHONUNBUFFERED="1")
    with open(log, "w") as handle:
        process = subprocess.Popen(cmd, stdout=handle, stderr=subprocess.STDOUT, env=env, cwd=root)
    server = RunningServer(f"http://127.0.0.1:{port}", checkpoints, process, log)
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"unival serve exited with {process.returncode}:\n{server.log_tail()}"
            )
        try:
            with urllib.request.urlopen(server.url + "/api/info", timeout=5) as answer:
                json.load(answer)
            return server
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.5)
    stop_server(server)
    raise RuntimeError(
        f"unival serve did not answer within {STARTUP_TIMEOUT_S} s:\n{server.log_tail()}"
    )


def stop_server(server: RunningServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=30)
