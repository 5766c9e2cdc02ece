"""VizWiz and OK-VQA annotations -> ``vqa_gen`` TSVs for zero-shot evaluation.

* VizWiz (``val.json``: a list of ``{"image", "question", "answers": [{"answer",
  "answer_confidence"}] x 10, "answerable", "answer_type"}``, images under ``--image-dir``):
  question_id = the position in the file, image_id = the image file's stem; confidences are
  the VQA soft scores of the 10 normalised answers (as for VQAv2). Questions without answers
  (the test split) are skipped and counted.
* OK-VQA (``OpenEnded_mscoco_val2014_questions.json`` + ``mscoco_val2014_annotations.json``:
  the VQAv2 layout, COCO val2014 images): converted by :func:`unival.data.convert.vqa.vqa_rows`
  keeping every answer (zero-shot decoding is unconstrained).

Both can write a candidate answer pickle (``{answer: index}``, answers given by at least
``min_count`` annotator answers of the file, most frequent first) for trie-constrained runs.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Iterator, List, Optional

from unival.data.convert.common import (
    ConversionReport,
    image_field,
    load_json,
    sanitize_text,
    write_tsv,
)
from unival.data.convert.vqa import (
    answer_confidences,
    format_answers,
    normalize_answer,
    vqa_rows,
    write_ans2label,
)


def vizwiz_rows(
    entries: list,
    image_dir: str,
    image_paths: bool = False,
    report: Optional[ConversionReport] = None,
) -> Iterator[List[str]]:
    report = report if report is not None else ConversionReport()
    for index, entry in enumerate(entries):
        answers = [a["answer"] for a in entry.get("answers") or []]
        confidences = answer_confidences(answers) if answers else {}
        if not confidences:
            report.skip("question without answers", f"{index} ({entry.get('image')})")
            continue
        name = entry["image"]
        try:
            field = image_field(os.path.join(image_dir, name), name if image_paths else None)
        except ValueError as error:
            report.skip("bad image", f"{index}: {error}")
            continue
        yield [
            str(index),
            os.path.splitext(name)[0],
            sanitize_text(entry["question"]),
            format_answers(confidences),
            "",
            field,
        ]


def answer_counts(answer_lists: List[List[str]]) -> Counter:
    return Counter(
        a for answers in answer_lists for a in (normalize_answer(x) for x in answers) if a
    )


def frequent(counts: Counter, min_count: int) -> List[str]:
    return sorted((a for a, c in counts.items() if c >= min_count), key=lambda a: (-counts[a], a))


def convert_vizwiz(
    annotations_json: str,
    image_dir: str,
    out_tsv: str,
    image_paths: bool = False,
    out_ans2label: Optional[str] = None,
    min_count: int = 1,
) -> ConversionReport:

    entries = load_json(annotations_json)
    if not isinstance(entries, list):
        raise ValueError(
            f"{annotations_json}: a VizWiz annotation file is a JSON list of questions"
        )
    report = ConversionReport()
    report.written[out_tsv] = write_tsv(
        out_tsv, vizwiz_rows(entries, image_dir, image_paths, report)
    )
    if out_ans2label:
        counts = answer_counts([[a["answer"] for a in e.get("answers") or []] for e in entries])
        write_ans2label(out_ans2label, frequent(counts, min_count))
    return report


def convert_okvqa(
    questions_json: str,
    annotations_json: str,
    image_dir: str,
    out_tsv: str,
    image_paths: bool = False,
    out_ans2label: Optional[str] = None,
    min_count: int = 1,
    image_template: str = "COCO_{subtype}_{image_id:012d}.jpg",
) -> ConversionReport:

    questions, annotations = load_json(questions_json), load_json(annotations_json)
    report = ConversionReport()
    rows = vqa_rows(
        questions,
        annotations,
        image_dir,
        candidates=None,
        keep_out_of_vocabulary=True,
        image_template=image_template,
        image_paths=image_paths,
        report=report,
    )
    report.written[out_tsv] = write_tsv(out_tsv, rows)
    if out_ans2label:
        counts = answer_counts(
            [[a["answer"] for a in x["answers"]] for x in annotations["annotations"]]
        )
        write_ans2label(out_ans2label, frequent(counts, min_count))
    return report
