"""AudioCaps and Clotho CSVs -> ``audio_caption`` TSVs.

* AudioCaps (``train.csv``/``val.csv``/``test.csv``: audiocap_id, youtube_id, start_time,
  caption): clips are grouped by (youtube_id, start_time); the file is
  ``--audio-template`` formatted with youtube_id, start_time and audiocap_id (default
  ``{youtube_id}.wav``); the media id is the youtube id.
* Clotho (``clotho_captions_{development,validation,evaluation}.csv``: file_name,
  caption_1..caption_5): the file is ``file_name``; the media id is its stem.

Train rows: one per caption; val/test rows: one per clip, captions "&&"-joined (see
:func:`unival.data.convert.media_files.caption_layout_rows`). Captions are lowercased and
stripped of tabs/newlines. Missing (or, with ``decode``, undecodable) audio is skipped and
counted.
"""

from __future__ import annotations

import csv
import os
from typing import Iterator

from unival.data.convert.common import ConversionReport, sanitize_text, write_tsv
from unival.data.convert.media_files import caption_layout_rows, media_field

AUDIOCAPS_COLUMNS = ("audiocap_id", "youtube_id", "start_time", "caption")
DEFAULT_AUDIOCAPS_TEMPLATE = "{youtube_id}.wav"


def read_csv(path: str | os.PathLike, required: tuple[str, ...]) -> list[dict]:
    """Rows of a CSV with a header; ValueError when a required column is absent."""
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(missing)}")
        return list(reader)


def _caption(text: str) -> str:
    return sanitize_text(text).lower()


def audiocaps_rows(
    records: list[dict],
    split: str,
    audio_dir: str | os.PathLike,
    audio_template: str = DEFAULT_AUDIOCAPS_TEMPLATE,
    decode: bool = False,
    report: ConversionReport | None = None,
) -> Iterator[list[str]]:
    """Rows of one AudioCaps split (``records`` from :func:`read_csv`)."""
    report = report if report is not None else ConversionReport()
    clips: dict[tuple[str, str], list[dict]] = {}
    for record in records:
        clips.setdefault((record["youtube_id"].strip(), record["start_time"].strip()), []).append(
            record
        )
    for (youtube_id, start), group in clips.items():
        pairs = [(r["audiocap_id"].strip(), c) for r in group if (c := _caption(r["caption"]))]
        if not pairs:
            report.skip("clip without captions", youtube_id)
            continue
        try:
            relative = audio_template.format(
                youtube_id=youtube_id, start_time=start, audiocap_id=pairs[0][0]
            )
            path = media_field(audio_dir, relative, "audio", decode)
        except ValueError as error:
            report.skip("bad audio", f"{youtube_id}: {error}")
            continue
        yield from caption_layout_rows(
            split, youtube_id, [c for _, c in pairs], path, [i for i, _ in pairs]
        )


def clotho_rows(
    records: list[dict],
    split: str,
    audio_dir: str | os.PathLike,
    decode: bool = False,
    report: ConversionReport | None = None,
) -> Iterator[list[str]]:
    """Rows of one Clotho split (``records`` from :func:`read_csv`)."""
    report = report if report is not None else ConversionReport()
    for record in records:
        name = record["file_name"].strip()
        media_id = os.path.splitext(name)[0]
        captions = [
            c
            for k in sorted(record)
            if k.startswith("caption") and (c := _caption(record[k] or ""))
        ]
        if not captions:
            report.skip("clip without captions", name)
            continue
        try:
            path = media_field(audio_dir, name, "audio", decode)
        except ValueError as error:
            report.skip("bad audio", f"{name}: {error}")
            continue
        yield from caption_layout_rows(split, media_id, captions, path)


def convert_audiocaps(
    csv_path: str, split: str, audio_dir: str, out_tsv: str, **kwargs
) -> ConversionReport:
    report = ConversionReport()
    rows = audiocaps_rows(
        read_csv(csv_path, AUDIOCAPS_COLUMNS), split, audio_dir, report=report, **kwargs
    )
    report.written[out_tsv] = write_tsv(out_tsv, rows)
    return report


def convert_clotho(
    csv_path: str, split: str, audio_dir: str, out_tsv: str, **kwargs
) -> ConversionReport:
    report = ConversionReport()
    rows = clotho_rows(
        read_csv(csv_path, ("file_name",)), split, audio_dir, report=report, **kwargs
    )
    report.written[out_tsv] = write_tsv(out_tsv, rows)
    return report
