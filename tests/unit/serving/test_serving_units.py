"""``unival serve`` without a server: flags -> models, the demo's experts, upload decoding, and
the batcher over a real toy predictor (requests that arrive together run as one batch)."""

import base64
import threading

import pytest
from PIL import Image

from unival.commands.serve import main as serve_main
from unival.hub import load
from unival.serving.api import decode_upload
from unival.serving.batching import InputError, TaskBatcher
from unival.serving.models import (
    ModelSpecError,
    ServedModel,
    check_device,
    demo_experts,
    parse_model_specs,
    parse_task_generation,
)
from unival.serving.tasks import SERVED_TASKS
from unival.testing.toy_checkpoint import write_toy_checkpoint


def test_model_flags_accept_every_task_name_and_reject_bad_ones(tmp_path):
    ckpt = tmp_path / "a.pt"
    ckpt.write_bytes(b"x")
    specs = parse_model_specs([f"refcoco={ckpt}", f"video_caption={ckpt}", f"VQA={ckpt}"])
    assert specs == {"ground": str(ckpt), "caption_video": str(ckpt), "vqa": str(ckpt)}
    cases = {
        f"{ckpt}": "expected TASK=PATH",
        f"draw={ckpt}": "unknown task 'draw'",
        "caption=missing.pt": "no checkpoint file or exported folder at missing.pt",
    }
    for value, message in cases.items():
        with pytest.raises(ModelSpecError, match=message):
            parse_model_specs([value])
    with pytest.raises(ModelSpecError, match="already has"):
        parse_model_specs([f"ground={ckpt}", f"refcoco={ckpt}"])


def test_per_task_generation_flags_are_parsed_and_checked():
    assert parse_task_generation(
        [
            "audio_caption:max_len_b=8",
            "refcoco:beam=3",
            "caption:unnormalized=false",
            "caption:lenpen=0.5",
        ]
    ) == {
        "caption_audio": {"max_len_b": 8},
        "ground": {"beam": 3},
        "caption": {"unnormalized": False, "lenpen": 0.5},
    }
    with pytest.raises(ModelSpecError, match="unknown option 'beams'"):
        parse_task_generation(["caption:beams=3"])
    with pytest.raises(ModelSpecError, match="expected TASK:OPTION=VALUE"):
        parse_task_generation(["caption=3"])


def test_demo_experts_are_found_where_make_demo_writes_them(tmp_path):
    for relative in (
        "multitask/caption/checkpoints/checkpoint_last.pt",
        "multitask/refcoco/checkpoints/checkpoint_last.pt",
        "media/audio_caption/checkpoints/checkpoint_last.pt",
        "media/audio_caption_scratch/checkpoints/checkpoint_last.pt",
    ):
        (tmp_path / relative).parent.mkdir(parents=True)
        (tmp_path / relative).write_bytes(b"x")
    found = demo_experts(str(tmp_path))
    assert found == {
        "caption": str(tmp_path / "multitask/caption/checkpoints/checkpoint_last.pt"),
        "ground": str(tmp_path / "multitask/refcoco/checkpoints/checkpoint_last.pt"),
        "caption_audio": str(tmp_path / "media/audio_caption/checkpoints/checkpoint_last.pt"),
    }
    single = tmp_path / "single"
    (single / "caption/checkpoints").mkdir(parents=True)
    (single / "caption/checkpoints/checkpoint_best.pt").write_bytes(
        b"x"
    )  # the --stages caption run
    assert demo_experts(str(single)) == {
        "caption": str(single / "caption/checkpoints/checkpoint_best.pt")
    }


def test_serve_without_models_says_what_to_do(tmp_path, capsys):
    assert serve_main(["--demo-dir", str(tmp_path)]) == 2
    error = capsys.readouterr().err.strip()
    assert (
        error.count("\n") == 0 and "run `make demo` first, or pass --model TASK=CHECKPOINT" in error
    )
    with pytest.raises(ModelSpecError, match="runs on a GPU only"):
        check_device("cpu", "bf16")


def test_uploads_decode_from_standard_and_url_safe_base64():
    task = SERVED_TASKS["vqa"]
    data = bytes(range(256))
    assert decode_upload({"image": base64.b64encode(data).decode()}, task) == data
    assert (
        decode_upload({"image": base64.urlsafe_b64encode(data).decode().rstrip("=")}, task) == data
    )
    with pytest.raises(InputError, match="'image' is required"):
        decode_upload({"question": "what?"}, task)


@pytest.fixture(scope="module")
def caption_model(tmp_path_factory):
    path = write_toy_checkpoint(tmp_path_factory.mktemp("serve_unit"), "caption", seed=2)
    predictor = load(path, device="cpu")
    return ServedModel(
        "caption",
        str(path),
        predictor,
        threading.Lock(),
        "fp32",
        {"arch": "unival_tiny", "parameters": 1, "weights": "model", "device": "cpu"},
    )


def test_requests_that_arrive_together_run_as_one_batch(caption_model, tmp_path):
    images = []
    for i, colour in enumerate(((0, 0, 0), (255, 255, 255), (255, 0, 0))):
        images.append(tmp_path / f"{i}.png")
        Image.new("RGB", (64, 64), colour).save(images[-1])
    expected = [caption_model.predictor.caption(str(p), beam=2) for p in images]
    assert len(set(expected)) > 1  # a mixed-up batch would show
    batcher = TaskBatcher(caption_model, {"beam": 2}, max_batch_size=8, max_wait_s=0.5)
    try:
        broken = tmp_path / "broken.png"
        broken.write_bytes(images[0].read_bytes()[:40])
        futures = [batcher.submit(str(p)) for p in (images[0], broken, images[1], images[2])]
        outcomes = [f.exception(timeout=120) or f.result() for f in futures]
    finally:
        batcher.close()
    assert [o.result for i, o in enumerate(outcomes) if i != 1] == expected
    assert isinstance(outcomes[1], InputError) and "is not a readable image" in str(outcomes[1])
    assert {o.batch_size for i, o in enumerate(outcomes) if i != 1} == {4}
    assert batcher.stats()["batch_sizes"] == {"4": 1} and batcher.stats()["failed"] == 1
