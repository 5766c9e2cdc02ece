"""Can-fit check of ``video_caption``: a tiny model trained from scratch recites the captions of
16 toy-world clips (4 frames of 32 px; one caption per clip, e.g. "a red circle moving left
quickly").

The prompt is the same for every clip, so the caption (shape, colour, direction, speed) can
only come from the frames. Decoding is the task's validation beam search (the recipe's
``--eval-args``).
"""

from canfit_helpers import ENCOURAGING_LOSS, fit, generated_captions, one_caption_per_clip

from unival.toy_world.build import ToyWorldConfig, build_toy_world_with_media
from unival.toy_world.media import ToyMediaConfig

UPDATES = 150
MEDIA = ToyMediaConfig(seed=0, num_train=16, num_valid=1, num_test=1, video_size=32, num_frames=4)
IMAGES = ToyWorldConfig(seed=0, num_train=1, num_valid=1, num_test=1)


def test_video_caption_fits_sixteen_clips(tmp_path):
    build_toy_world_with_media(tmp_path, IMAGES, MEDIA)
    train, rows = one_caption_per_clip(tmp_path / "video_caption_train.tsv")
    assert len(rows) == 16 and len({r[2] for r in rows}) >= 12
    fitted = fit(
        train,
        [
            "--task=video_caption",
            "--selected-cols=0,4,2",
            f"--image-dir={tmp_path}",
            "--num-frames=4",
            "--patch-frame-size=32",
            "--patch-image-size=32",
            "--sample-type=rand",
            "--eval-cider",
            '--eval-args={"beam":5,"unnormalized":true,"temperature":1.0,"stop_on_max_len":true}',
        ],
        UPDATES,
        lr=1.5e-3,
        criterion_flags=ENCOURAGING_LOSS,
    )
    pairs = generated_captions(fitted)
    exact = sum(hyp == ref for hyp, ref in pairs) / len(pairs)
    assert len(pairs) == 16
    assert exact >= 0.9, f"{exact:.3f} of the captions reproduced; e.g. {pairs[:3]}"
