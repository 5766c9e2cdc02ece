"""The Python API: inputs, batching, per-task settings, and parity with ``unival eval``."""

import io
import json

import pytest
from PIL import Image

from unival.commands import eval as evaluate
from unival.data.io.image import encode_image_base64
from unival.hub import GENERATION_DEFAULTS, PredictionError, generation_settings, load
from unival.testing.toy_checkpoint import write_toy_checkpoint

RED = (200, 20, 20)


def _png_bytes(img):
    buffer = io.BytesIO()
    img.save(buffer, format="PNG")
    return buffer.getvalue()


def test_generation_defaults_are_the_released_settings():
    assert GENERATION_DEFAULTS["caption"] == {
        "beam": 5,
        "max_len_a": 0,
        "max_len_b": 22,
        "no_repeat_ngram_size": 3,
        "unnormalized": True,
    }
    assert GENERATION_DEFAULTS["refcoco"] == {
        "beam": 5,
        "min_len": 4,
        "max_len_a": 0,
        "max_len_b": 4,
        "no_repeat_ngram_size": 3,
    }
    assert GENERATION_DEFAULTS["vqa_gen"] == {"beam": 5, "unnormalized": True, "temperature": 1.0}
    assert GENERATION_DEFAULTS["snli_ve"] == {}
    assert generation_settings("caption", {"beam": 2})["beam"] == 2
    with pytest.raises(ValueError, match="unknown generation options.*'beams'"):
        generation_settings("caption", {"beams": 2})


def test_paths_bytes_and_pil_images_give_the_same_caption(caption_predictor, tmp_path):
    img = Image.new("RGB", (48, 36), RED)
    path = tmp_path / "red.png"
    img.save(path)
    by_path, by_bytes, by_pil = caption_predictor.caption(
        [str(path), _png_bytes(img), img], beam=2, max_len_b=6
    )
    assert by_path == by_bytes == by_pil
    single = caption_predictor.caption(path, beam=2, max_len_b=6)  # one input -> one str
    assert isinstance(single, str) and single == by_path


def test_batched_results_equal_one_at_a_time(caption_predictor):
    images = [Image.new("RGB", (40, 40), c) for c in (RED, (20, 200, 20), (20, 20, 200))]
    together = caption_predictor.caption(images, batch_size=3, beam=2, max_len_b=6)
    alone = [caption_predictor.caption(img, beam=2, max_len_b=6) for img in images]
    assert together == alone


def test_boxes_are_in_original_pixels(caption_predictor):
    """A solid image and its 2x enlargement give the same model input, so the boxes scale by 2."""
    small, large = Image.new("RGB", (50, 40), RED), Image.new("RGB", (100, 80), RED)
    overrides = {"patch_image_size": 64}
    predictor = caption_predictor
    predictor.task_overrides.update(overrides)
    try:
        box_small, box_large = predictor.ground([small, large], ["the red circle"] * 2, beam=2)
    finally:
        predictor.task_overrides.clear()
    assert len(box_small) == 4
    assert box_large == pytest.approx([2 * c for c in box_small])
    scale = 512 / 999 / (64 / 50)  # one bin in original x pixels of the small image
    assert all(
        abs(c / scale - round(c / scale)) < 1e-4 for c in box_small[0::2]
    )  # whole bins (fp32 ratios)


def test_entailment_answers_come_from_the_three_labels(caption_predictor):
    answers = caption_predictor.entail(
        [Image.new("RGB", (32, 32), RED)] * 2, ["a red circle", "two squares"]
    )
    assert len(answers) == 2 and set(answers) <= {"yes", "no", "maybe"}


def test_media_methods_take_file_paths_and_need_a_model_with_that_encoder(
    caption_predictor, tmp_path
):
    with pytest.raises(TypeError, match="a video must be a file path or bytes, not Image"):
        caption_predictor.caption_video([Image.new("RGB", (8, 8))])
    with pytest.raises(FileNotFoundError, match="audio file not found"):
        caption_predictor.caption_audio([str(tmp_path / "missing.wav")])
    results = dict(
        caption_predictor.iter_predict(
            "caption_audio", [str(tmp_path / "missing.wav")], skip_bad=True
        )
    )
    assert isinstance(results[0], PredictionError) and "audio file not found" in results[0].reason


def test_bad_inputs_raise_or_are_reported(caption_predictor, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(Exception, match="not a readable image"):
        caption_predictor.caption([str(bad)], beam=1)
    good = Image.new("RGB", (32, 32), RED)
    results = dict(
        caption_predictor.iter_predict(
            "caption",
            [str(bad), good, str(tmp_path / "missing.jpg")],
            generation={"beam": 1, "max_len_b": 3},
            skip_bad=True,
        )
    )
    assert isinstance(results[0], PredictionError) and "not a readable image" in results[0].reason
    assert isinstance(results[1], str)
    assert isinstance(results[2], PredictionError) and "not found" in results[2].reason
    with pytest.raises(ValueError, match="2 inputs but 1 texts"):
        caption_predictor.vqa([good, good], ["one question"])


# ---------------------------------------------------------------------- parity with unival eval
def _write_tsv(path, rows):
    path.write_text("".join("\t".join(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="module")
def parity_images():
    colours = (RED, (20, 200, 20), (20, 20, 200))
    return [Image.new("RGB", (40 + 8 * i, 32), c) for i, c in enumerate(colours)]


def _evaluate(checkpoint, data, results, *extra):
    argv = [
        str(checkpoint),
        "--data",
        str(data),
        "--results-path",
        str(results),
        "--cpu",
        "--batch-size",
        "3",
        *extra,
    ]
    assert evaluate.main(argv) == 0
    return json.loads((results / "predictions.json").read_text())


def test_captions_equal_unival_eval(tmp_path, parity_images):
    checkpoint = write_toy_checkpoint(tmp_path, "caption", layout="fairseq")
    rows = [
        [f"c{i}", str(i), "a red circle", "", encode_image_base64(img)]
        for i, img in enumerate(parity_images)
    ]
    data = _write_tsv(tmp_path / "test.tsv", rows)
    records = _evaluate(
        checkpoint,
        data,
        tmp_path / "out",
        "--beam",
        "3",
        "--max-len-b",
        "7",
        "--no-repeat-ngram-size",
        "3",
        "--unnormalized",
    )
    api = load(checkpoint, device="cpu").caption(parity_images, batch_size=3, beam=3, max_len_b=7)
    assert [r["caption"] for r in records] == api


def test_boxes_equal_unival_eval(tmp_path, parity_images):
    checkpoint = write_toy_checkpoint(tmp_path, "refcoco", layout="fairseq")
    rows = [
        [f"g{i}", str(i), "the red circle", "1,2,20,30", encode_image_base64(img)]
        for i, img in enumerate(parity_images)
    ]
    data = _write_tsv(tmp_path / "test.tsv", rows)
    records = _evaluate(
        checkpoint,
        data,
        tmp_path / "out",
        "--beam",
        "3",
        "--min-len",
        "4",
        "--max-len-b",
        "4",
        "--no-repeat-ngram-size",
        "3",
    )
    api = load(checkpoint, device="cpu").ground(
        parity_images, ["the red circle"] * 3, batch_size=3, beam=3
    )
    assert [r["box"] for r in records] == [[round(c, 2) for c in box] for box in api]


@pytest.mark.parametrize("inference", ["beamsearch", "allcand"])
def test_vqa_answers_equal_unival_eval(tmp_path, parity_images, inference):
    checkpoint = write_toy_checkpoint(tmp_path, "vqa_gen", layout="fairseq")
    questions = ["what colour is it", "is there a square", "how many circles are there"]
    rows = [
        [str(i), str(i), q, "1.0|!+red", "", encode_image_base64(img)]
        for i, (q, img) in enumerate(zip(questions, parity_images))
    ]
    data = _write_tsv(tmp_path / "test.tsv", rows)
    records = _evaluate(
        checkpoint,
        data,
        tmp_path / "out",
        "--val-inference-type",
        inference,
        "--beam",
        "5",
        "--max-len-b",
        "200",
        "--no-repeat-ngram-size",
        "0",
        "--unnormalized",
    )
    api = load(checkpoint, device="cpu").vqa(
        parity_images, questions, batch_size=3, inference=inference
    )
    assert [r["answer"] for r in records] == api


def test_entailment_equals_unival_eval(tmp_path, parity_images):
    checkpoint = write_toy_checkpoint(tmp_path, "snli_ve", layout="fairseq")
    hypotheses = ["a red circle", "two squares", "a big shape"]
    rows = [
        [f"e{i}", str(i), encode_image_base64(img), h, "", "entailment"]
        for i, (h, img) in enumerate(zip(hypotheses, parity_images))
    ]
    data = _write_tsv(tmp_path / "test.tsv", rows)
    records = _evaluate(checkpoint, data, tmp_path / "out")
    api = load(checkpoint, device="cpu").entail(parity_images, hypotheses, batch_size=3)
    assert [r["answer"] for r in records] == api
