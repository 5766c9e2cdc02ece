"""Can-fit check of ``video_caption``: a tiny model trained from scratch recites the captions of
16 toy-world clips (4 frames of 32 px; one caption per clip, e.g. "a red circle moving left
quickly").

The prompt is the same for every clip, so the caption (shape, colour, direction, speed) can
only come from the frames. Decoding is the task's validation beam search (the recipe's
``--eval-args``).
"""

from canfit_helpers import recite_toy_captions


def test_video_caption_fits_sixteen_clips(tmp_path):
    video = ["--num-frames=4", "--patch-frame-size=32", "--patch-image-size=32"]
    rows, pairs = recite_toy_captions(tmp_path, "video_caption", [*video, "--sample-type=rand"])
    assert len(rows) == 16 and len({r[2] for r in rows}) >= 12
    exact = sum(hyp == ref for hyp, ref in pairs) / len(pairs)
    assert len(pairs) == 16
    assert exact >= 0.9, f"{exact:.3f} of the captions reproduced; e.g. {pairs[:3]}"
