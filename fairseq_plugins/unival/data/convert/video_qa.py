"""MSRVTT-QA / MSVD-QA JSONs -> ``video_vqa_gen`` TSVs and the candidate answers.

Each split file is a JSON list of ``{"id", "video_id", "question", "answer"}``. A row is
question_id, video_id, question, "1.0|!+answer", empty, video path. MSRVTT-QA names videos
``video{video_id}.mp4``; MSVD-QA numbers them ``vid{video_id}`` in ``youtube_mapping.txt``
(lines "<youtube name> vid<N>"), its files being ``<youtube name>.avi``: pass the mapping and
``--video-template "{name}.avi"``. The candidate set is the ``top_k`` most frequent answers
of the given (train/val) files (``msrvtt_trainval_4k_ans2label.pkl`` has 4000); rows whose
answer is not a candidate are skipped unless ``keep_out_of_vocabulary``.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Iterable, Iterator, Sequence

from unival.data.convert.common import ConversionReport, load_json, sanitize_text, write_tsv
from unival.data.convert.media_files import media_field

MSRVTT_VIDEO_TEMPLATE = "video{video_id}.mp4"


def normalise_answer(answer: str) -> str:
    return sanitize_text(answer).lower()


def read_youtube_mapping(path: str | os.PathLike) -> dict[str, str]:
    """MSVD ``youtube_mapping.txt`` -> {"1": "-4wsuPCjDBc_5_15", ...} (``vid`` prefix dropped)."""
    mapping = {}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            parts = line.split()
            if len(parts) != 2 or not parts[1].startswith("vid"):
                raise ValueError(
                    f"{path}:{number}: expected '<youtube name> vid<N>', got {line.strip()!r}"
                )
            mapping[parts[1][3:]] = parts[0]
    return mapping


def frequent_answers(records: Iterable[dict], top_k: int = 4000) -> list[str]:
    """The ``top_k`` most frequent normalised answers, most frequent first (ties A-Z)."""
    counts = Counter(normalise_answer(r["answer"]) for r in records)
    counts.pop("", None)
    return sorted(counts, key=lambda a: (-counts[a], a))[:top_k]


def video_qa_rows(
    records: Sequence[dict],
    video_dir: str | os.PathLike,
    video_template: str = MSRVTT_VIDEO_TEMPLATE,
    mapping: dict[str, str] | None = None,
    candidates: Sequence[str] | None = None,
    keep_out_of_vocabulary: bool = False,
    decode: bool = False,
    report: ConversionReport | None = None,
) -> Iterator[list[str]]:
    """Rows of one split; each video is checked once."""
    report = report if report is not None else ConversionReport()
    allowed = set(candidates) if candidates is not None else None
    checked: dict[str, str | None] = {}
    for record in records:
        qid, video_id = str(record["id"]), str(record["video_id"])
        question, answer = sanitize_text(record["question"]), normalise_answer(record["answer"])
        if not question or not answer:
            report.skip("empty question or answer", qid)
            continue
        if allowed is not None and answer not in allowed and not keep_out_of_vocabulary:
            report.skip("answer not a candidate", f"{qid}: {answer}")
            continue
        if video_id not in checked:
            try:
                name = mapping[video_id] if mapping is not None else video_id
                checked[video_id] = media_field(
                    video_dir, video_template.format(video_id=video_id, name=name), "video", decode
                )
            except (KeyError, ValueError) as error:
                checked[video_id] = None
                report.skip("bad video", f"{video_id}: {error}")
        if checked[video_id] is None:
            continue
        yield [qid, video_id, question, f"1.0|!+{answer}", "", checked[video_id]]


def convert(
    split_jsons: dict[str, str],
    video_dir: str,
    out_dir: str,
    prefix: str,
    candidates: Sequence[str],
    **kwargs,
) -> ConversionReport:
    """Write ``{prefix}_{split}.tsv`` for each split -> JSON path of ``split_jsons``."""
    report = ConversionReport()
    for split, path in split_jsons.items():
        out = os.path.join(out_dir, f"{prefix}_{split}.tsv")
        report.written[out] = write_tsv(
            out,
            video_qa_rows(
                load_json(path), video_dir, candidates=candidates, report=report, **kwargs
            ),
        )
    return report
