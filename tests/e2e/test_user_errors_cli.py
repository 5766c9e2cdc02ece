"""Broken and hostile inputs through the ``unival`` command (and ``fairseq-generate``): a
refused input is one line naming the file, exit status 2, no traceback; ``unival predict``
gives each bad input its own ``"error"`` line, goes on, counts the failures last and exits 1.

Two cases run as real processes: ``unival eval`` through the installed console script (the
script's own exit status and stderr) and fairseq's own ``fairseq-generate``. The other cases
call ``unival.cli.main`` in this process, the function the script runs, with stderr and the
log records captured as the process would print them; each subprocess would spend seconds
importing fairseq and add nothing these checks look at.
"""

import contextlib
import io
import json
import logging
import os
import struct
import subprocess
import sys
import traceback
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from unival import cli
from unival.data.io.audio import write_audio
from unival.data.io.image import encode_image_base64
from unival.data.io.video import write_video
from unival.testing.toy_checkpoint import write_toy_checkpoint

BIN = Path(sys.executable).parent


def huge_png(path: Path, side: int = 20000) -> None:
    """A PNG whose header says ``side`` x ``side`` pixels (a decompression bomb's header)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * (3 * 64 + 1))
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def write_files(root: Path) -> dict:
    good = write_toy_checkpoint(root / "ckpt", "caption", layout="fairseq")
    state = torch.load(good, map_location="cpu", weights_only=False)
    state["model"] = {
        k: v for k, v in state["model"].items() if not k.startswith("decoder.layers.0.")
    }
    torch.save(state, root / "no_decoder_layer.pt")
    data = good.read_bytes()
    (root / "truncated.pt").write_bytes(data[: len(data) // 2])
    (root / "notes.pt").write_text("these are my notes, not a checkpoint\n")
    (root / "empty.pt").write_bytes(b"")
    media = root / "media"
    media.mkdir()
    Image.new("RGB", (48, 40), (200, 30, 30)).save(media / "good.png")
    Image.new("RGB", (64, 64), (30, 30, 200)).save(media / "full.jpg")
    jpeg = (media / "full.jpg").read_bytes()
    (media / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    write_video(media / "full.mp4", np.zeros((4, 32, 32, 3), dtype=np.uint8))
    (media / "truncated.mp4").write_bytes((media / "full.mp4").read_bytes()[:300])
    write_audio(media / "full.wav", np.zeros(8000), 16000)
    (media / "truncated.wav").write_bytes((media / "full.wav").read_bytes()[:30])
    (media / "empty.png").write_bytes(b"")
    huge_png(media / "huge.png")
    (media / "rows.tsv").write_bytes(b"good.png\nbad\xff\xfename.png\ngood.png\n")
    os.symlink(media / "gone.png", media / "dangling.png")
    image = encode_image_base64(Image.new("RGB", (40, 32), (200, 20, 20)))
    (root / "test.tsv").write_text(
        "".join(f"c{i}\t{i}\ta red circle\t\t{image}\n" for i in range(2))
    )
    (root / "broken.json").write_text('{"scenes": [')
    return {"good": good}


def unival(*args):
    return [str(BIN / "unival"), *map(str, args)]


CASES = {
    "eval_truncated_checkpoint": (
        unival("eval", "truncated.pt", "--data", "test.tsv", "--results-path", "r1", "--cpu"),
        ["truncated.pt is not a readable PyTorch checkpoint", "truncated"],
    ),
    "eval_missing_decoder_layer": (
        unival(
            "eval", "no_decoder_layer.pt", "--data", "test.tsv", "--results-path", "r2", "--cpu"
        ),
        ["no_decoder_layer.pt is missing 34 weight(s)", "decoder.layers.0.fc1.{bias,weight}"],
    ),
    "eval_missing_data": (
        unival(
            "eval",
            "ckpt/caption_fairseq.pt",
            "--data",
            "nowhere.tsv",
            "--results-path",
            "r3",
            "--cpu",
        ),
        ["nowhere.tsv"],
    ),
    "predict_text_file_as_model": (
        unival("predict", "--task", "caption", "--model", "notes.pt", "media/good.png"),
        ["notes.pt is not a readable PyTorch checkpoint", "a text file?"],
    ),
    "predict_missing_decoder_layer": (
        unival("predict", "--task", "caption", "--model", "no_decoder_layer.pt", "media/good.png"),
        ["is missing 34 weight(s)", "decoder.layers.0."],
    ),
    "export_empty_file": (
        unival("export", "empty.pt", "out"),
        ["empty.pt is not a readable", "the file is empty"],
    ),
    "merge_missing_decoder_layer": (
        unival(
            "merge",
            "average",
            "no_decoder_layer.pt",
            "ckpt/caption_fairseq.pt",
            "--out",
            "merged.pt",
        ),
        ["no_decoder_layer.pt is missing 34 weight(s)"],
    ),
    "pope_broken_json": (
        unival("pope", "build", "--gt", "broken.json", "--out", "pope"),
        ["broken.json: not a JSON file"],
    ),
    "probe_missing_file": (
        unival("probe", "score", "--predictions", "nothing.json", "--categories", "broken.json"),
        ["nothing.json"],
    ),
    "fairseq_generate_missing_decoder_layer": (
        [
            str(BIN / "fairseq-generate"),
            "test.tsv",
            "--user-dir",
            "PLUGIN",
            "--path",
            "no_decoder_layer.pt",
            "--task",
            "caption",
            "--dict-path",
            "ckpt/dict.txt",
            "--selected-cols",
            "0,4,2",
            "--cpu",
            "--gen-subset",
            "test",
            "--batch-size",
            "2",
        ],
        ["MissingWeightsError", "decoder.layers.0.fc1.{bias,weight}"],
    ),
}
PREDICT_INPUTS = [
    "media/good.png",
    "media/truncated.jpg",
    "media/truncated.mp4",
    "media/truncated.wav",
    "media/empty.png",
    "media/huge.png",
    "media/dangling.png",
    "media/missing.png",
    "media/rows.tsv",
]


#: the cases run as processes of their executables; the others call ``cli.main`` in-process
SUBPROCESS_CASES = {"eval_missing_decoder_layer", "fairseq_generate_missing_decoder_layer"}


def run_in_process(argv):
    """``(exit status, stdout, stderr)`` of ``unival ARGV`` run by ``cli.main`` here, with the
    stderr a process would show: what the command writes and its log records (a logged
    traceback included). An exception that escapes is printed as Python prints it, status 1."""
    out, err = io.StringIO(), io.StringIO()
    handler = logging.StreamHandler(err)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                status = cli.main(argv)
            except SystemExit as done:  # argparse's usage errors
                status = done.code if isinstance(done.code, int) else 1
            except Exception:  # noqa: BLE001 - a bug: shown as the interpreter would, exit 1
                traceback.print_exc()
                status = 1
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    return status, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def runs(tmp_path_factory, plugin_dir):
    root = tmp_path_factory.mktemp("user_errors")
    write_files(root)
    commands = dict(CASES)
    commands["predict_bad_inputs"] = (
        unival(
            "predict",
            "--task",
            "caption",
            "--model",
            "ckpt/caption_fairseq.pt",
            "--device",
            "cpu",
            "--no-progress",
            "--beam",
            "1",
            "--max-len-b",
            "3",
            "--output",
            "out.jsonl",
            *PREDICT_INPUTS,
        ),
        [],
    )
    procs = {}
    for name in sorted(SUBPROCESS_CASES):  # started first: they import fairseq meanwhile
        cmd = [str(plugin_dir) if c == "PLUGIN" else c for c in commands[name][0]]
        procs[name] = subprocess.Popen(
            cmd, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
    results = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        for name, (cmd, _) in commands.items():
            if name not in SUBPROCESS_CASES:
                assert cmd[0] == str(BIN / "unival"), cmd
                results[name] = run_in_process(cmd[1:])
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=600)
        results[name] = (proc.returncode, out, err)
    return root, results


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_refused_input_is_one_line_and_status_2(runs, name):
    _, results = runs
    status, _, err = results[name]
    expected = CASES[name][1]
    if name.startswith(
        "fairseq_generate"
    ):  # fairseq's own executable: it must refuse, naming the keys
        assert status != 0 and all(text in err for text in expected), err[-3000:]
        return
    assert status == 2, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    last = err.strip().splitlines()[-1]
    command = CASES[name][0][1]
    assert last.startswith(f"unival {command}: "), last
    assert all(text in last for text in expected), last


def test_predict_answers_every_bad_input_and_counts_the_failures(runs):
    root, results = runs
    status, _, err = results["predict_bad_inputs"]
    assert "Traceback" not in err, err[-3000:]
    assert status == 1, err[-3000:]
    records = [json.loads(line) for line in (root / "out.jsonl").read_text().splitlines()]
    inputs = [r["input"] for r in records]
    tsv = str(root / "media")
    assert inputs == PREDICT_INPUTS[:-1] + [
        f"{tsv}/good.png",
        "media/rows.tsv:2",
        f"{tsv}/good.png",
    ]
    good = [r for r in records if "error" not in r]
    assert [r["input"] for r in good] == ["media/good.png", f"{tsv}/good.png", f"{tsv}/good.png"]
    errors = {r["input"]: r["error"] for r in records if "error" in r}
    assert "truncated.jpg is not a readable image" in errors["media/truncated.jpg"]
    assert errors["media/truncated.mp4"].startswith("media/truncated.mp4: ")
    assert "not a readable image" in errors["media/truncated.mp4"]
    assert "empty.png is not a readable image" in errors["media/empty.png"]
    assert (
        "400000000" in errors["media/huge.png"]
        and "UNIVAL_MAX_IMAGE_PIXELS" in errors["media/huge.png"]
    )
    assert "symbolic link" in errors["media/dangling.png"]
    assert "no such file" in errors["media/missing.png"]
    assert errors["media/rows.tsv:2"].startswith("media/rows.tsv:2: not UTF-8")
    assert (
        err.strip().splitlines()[-1]
        == 'unival predict: 11 inputs, 8 failed (their lines carry "error")'
    )
