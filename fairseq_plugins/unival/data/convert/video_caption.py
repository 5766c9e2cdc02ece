"""MSR-VTT (``train_val_videodatainfo.json`` / ``test_videodatainfo.json``) -> ``video_caption``
TSVs.

The JSON holds ``videos`` ({video_id, split: train/validate/test, ...}) and ``sentences``
({video_id, caption, sen_id}). Train rows: one per caption (uniq_id = sen_id); val/test rows:
one per video with the captions "&&"-joined (uniq_id = video_id). Captions are lowercased and
stripped of tabs/newlines (punctuation is removed when the dataset reads them). The last
column is the video path relative to the video directory (``--image-dir`` of the task),
``{video_id}.mp4`` by default. Videos missing (or, with ``decode``, unreadable) are skipped
and counted in the report.
"""

from __future__ import annotations

import os
from collections import defaultdict
from typing import Iterator

from unival.data.convert.common import ConversionReport, load_json, sanitize_text, write_tsv
from unival.data.convert.media_files import caption_layout_rows, media_field

MSRVTT_SPLITS = {"train": "train", "validate": "val", "val": "val", "test": "test"}
DEFAULT_VIDEO_TEMPLATE = "{video_id}.mp4"


def msrvtt_captions(payload: dict) -> dict[str, list[tuple[str, str]]]:
    """video_id -> [(sentence id, caption)] in file order (empty captions dropped)."""
    by_video: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for sentence in payload.get("sentences", []):
        caption = sanitize_text(sentence.get("caption", "")).lower()
        if caption:
            video_id = str(sentence["video_id"])
            sentence_id = sentence.get("sen_id", f"{video_id}_{len(by_video[video_id])}")
            by_video[video_id].append((str(sentence_id), caption))
    return by_video


def msrvtt_rows(
    payload: dict,
    split: str,
    video_dir: str | os.PathLike,
    video_template: str = DEFAULT_VIDEO_TEMPLATE,
    decode: bool = False,
    report: ConversionReport | None = None,
) -> Iterator[list[str]]:
    """Rows of ``split`` ("train", "val" or "test") of a loaded MSR-VTT JSON."""
    report = report if report is not None else ConversionReport()
    captions = msrvtt_captions(payload)
    for video in payload["videos"]:
        if MSRVTT_SPLITS.get(video.get("split", "")) != split:
            continue
        video_id = str(video["video_id"])
        pairs = captions.get(video_id)
        if not pairs:
            report.skip("video without captions", video_id)
            continue
        try:
            path = media_field(
                video_dir,
                video_template.format(video_id=video_id, id=video.get("id")),
                "video",
                decode,
            )
        except ValueError as error:
            report.skip("bad video", f"{video_id}: {error}")
            continue
        yield from caption_layout_rows(
            split, video_id, [c for _, c in pairs], path, [i for i, _ in pairs]
        )


def convert(
    json_paths: list[str],
    video_dir: str,
    out_dir: str,
    splits: tuple[str, ...] = ("train", "val", "test"),
    prefix: str = "msrvtt_caption",
    **kwargs,
) -> ConversionReport:
    """Write ``{prefix}_{split}.tsv`` for each split found in the JSON files."""
    payload: dict = {"videos": [], "sentences": []}
    for path in json_paths:
        loaded = load_json(path)
        payload["videos"] += loaded.get("videos", [])
        payload["sentences"] += loaded.get("sentences", [])
    report = ConversionReport()
    for split in splits:
        out = os.path.join(out_dir, f"{prefix}_{split}.tsv")
        report.written[out] = write_tsv(
            out, msrvtt_rows(payload, split, video_dir, report=report, **kwargs)
        )
    return report
