"""``unival predict``'s exit status and last line: 0 when every input gave a result, 1 when any
failed, with the count of failed inputs printed last (in process; the installed command is
run in tests/e2e/test_user_errors_cli.py)."""

import json

import pytest
from PIL import Image

from unival.commands import predict
from unival.testing.toy_checkpoint import write_toy_checkpoint


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return write_toy_checkpoint(
        tmp_path_factory.mktemp("predict_status"), "caption", layout="fairseq"
    )


def _run(checkpoint, out, *inputs):
    return predict.main(
        [
            "--task",
            "caption",
            "--model",
            str(checkpoint),
            "--device",
            "cpu",
            "--no-progress",
            "--beam",
            "1",
            "--max-len-b",
            "2",
            "--output",
            str(out),
            *map(str, inputs),
        ]
    )


def test_status_0_when_all_inputs_succeed_and_1_when_one_fails(checkpoint, tmp_path, capsys):
    image = tmp_path / "red.png"
    Image.new("RGB", (32, 32), (200, 10, 10)).save(image)
    assert _run(checkpoint, tmp_path / "ok.jsonl", image, image) == 0
    assert capsys.readouterr().err.strip().splitlines()[-1] == "unival predict: 2 inputs, 0 failed"
    assert _run(checkpoint, tmp_path / "bad.jsonl", image, tmp_path / "gone.png", image) == 1
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        'unival predict: 3 inputs, 1 failed (their lines carry "error")'
    )
    records = [json.loads(line) for line in (tmp_path / "bad.jsonl").read_text().splitlines()]
    assert ["error" in r for r in records] == [False, True, False]
