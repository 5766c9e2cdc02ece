"""Can-fit check of ``audio_caption``: a tiny model trained from scratch recites the captions of
16 toy-world sounds (tones, chirps, beeps, noise; one caption per clip, e.g. "two high beeps").

The prompt is the same for every clip, so the caption can only come from the waveform (through
the PANN CNN6 log-mel front end). The clips are resampled to 8 kHz as the demo does (the toy
sounds stay below 2.1 kHz) and read whole (``--max-audio-len`` covers the longest, 2 s), so a
crop cannot change how many beeps a clip holds. A 400-sample hop (50 ms, shorter than a beep or
a gap) gives 41 frames of 16 mel bins, a 2 x 1 CNN6 map: a quarter of the convolution cost of
the demo's 200-sample hop and 32 bins. SpecAugment is off: its stripes are sized for 10 s clips
and erase most of a 2 s one. Decoding is the task's validation beam search (the recipe's
``--eval-args``).
"""

from canfit_helpers import MODEL_FLAGS, recite_toy_captions


def test_audio_caption_fits_sixteen_sounds(tmp_path):
    audio = ["--audio-sample-rate", "--sample-rate=8000", "--max-audio-len=16000"]
    pann = [
        "--audio-encoder-name=pann_cnn6",
        "--mel-bins=16",
        "--hop-size=400",
        "--no-audio-spec-augment",
    ]
    rows, pairs = recite_toy_captions(
        tmp_path,
        "audio_caption",
        [*audio, "--patch-image-size=32"],
        [*MODEL_FLAGS, *pann],
        updates=150,
    )
    # the same prompt must lead to several different captions
    assert len(rows) == 16 and len({r[2] for r in rows}) >= 6
    exact = sum(hyp == ref for hyp, ref in pairs) / len(pairs)
    assert len(pairs) == 16
    assert exact >= 0.9, f"{exact:.3f} of the captions reproduced; e.g. {pairs[:3]}"
