"""Can-fit check of ``audio_caption``: a tiny model trained from scratch recites the captions of
16 toy-world sounds (tones, chirps, beeps, noise; one caption per clip, e.g. "two high beeps").

The prompt is the same for every clip, so the caption can only come from the waveform (through
the PANN CNN6 log-mel front end). Clips are read whole (``--max-audio-len`` covers 2 s at
16 kHz), so a crop cannot change how many beeps a clip holds. Decoding is the task's validation
beam search (the recipe's ``--eval-args``).
"""

from canfit_helpers import MODEL_FLAGS, recite_toy_captions


def test_audio_caption_fits_sixteen_sounds(tmp_path):
    audio = ["--audio-sample-rate", "--sample-rate=16000", "--max-audio-len=32000"]
    pann = [
        "--audio-encoder-name=pann_cnn6",
        "--mel-bins=32",
        "--hop-size=800",
        "--no-audio-spec-augment",
    ]
    rows, pairs = recite_toy_captions(
        tmp_path,
        "audio_caption",
        [*audio, "--patch-image-size=32"],
        [*MODEL_FLAGS, *pann],
        updates=250,
    )
    assert len(rows) == 16 and len({r[2] for r in rows}) >= 6
    exact = sum(hyp == ref for hyp, ref in pairs) / len(pairs)
    assert len(pairs) == 16
    assert exact >= 0.9, f"{exact:.3f} of the captions reproduced; e.g. {pairs[:3]}"
