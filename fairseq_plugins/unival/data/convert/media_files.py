"""Media paths of the video/audio converters: the TSV stores a path relative to the
``--image-dir`` the task is given; the converters check the file is there (and, on request,
that it decodes) before writing a row."""

from __future__ import annotations

import os

from unival.data.io.audio import read_audio
from unival.data.io.video import probe_num_frames


def media_field(
    media_dir: str | os.PathLike, relative: str, kind: str, decode: bool = False
) -> str:
    """``relative`` (the TSV field) when ``media_dir/relative`` is a readable ``kind`` file
    ("video" or "audio"); ValueError naming the file otherwise. ``decode`` reads the stream
    (frame count for video, samples for audio), which is slower."""
    path = os.path.join(os.fspath(media_dir), relative)
    if not os.path.isfile(path):
        raise ValueError(f"{kind} file not found: {path}")
    if decode:
        check_media_decodes(path, kind)
    return relative


def check_media_decodes(path: str, kind: str) -> None:
    """ValueError when ``path`` is not a decodable ``kind`` ("video" or "audio") file."""
    if kind == "video":
        if probe_num_frames(path) <= 0:
            raise ValueError(f"video file {path} has no frames")
    elif kind == "audio":
        read_audio(path)
    else:
        raise ValueError(f"unknown media kind {kind!r}")


def caption_layout_rows(
    split: str, media_id: str, captions: list[str], path: str, caption_ids: list[str] | None = None
) -> list[list[str]]:
    """Video/audio caption layout (uniq_id, media id, caption(s), empty, path): one row per
    caption in train (uniq_id = the caption id, default ``<media_id>_<k>``), else one row
    per clip with the captions "&&"-joined (uniq_id = the media id)."""
    if split == "train":
        ids = caption_ids or [f"{media_id}_{k}" for k in range(len(captions))]
        return [[uid, media_id, caption, "", path] for uid, caption in zip(ids, captions)]
    return [[media_id, media_id, "&&".join(captions), "", path]]
