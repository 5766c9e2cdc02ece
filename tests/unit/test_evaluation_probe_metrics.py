"""unival eval's probe options: per-domain caption scores, argument checks, side files."""

import json

import pytest

from unival.commands import eval as evaluate
from unival.evaluation.options import check_arguments
from unival.evaluation.probe_metrics import caption_probe_scores, domain_scores, record_probe_scores


def test_domain_scores_split_the_images_by_domain(tmp_path):
    (tmp_path / "d.json").write_text(
        json.dumps({"1": "in-domain", "2": "out-domain", "3": "in-domain"})
    )
    predictions = {1: "a", 2: "b", 3: "c", 4: "d"}  # 4 has no domain: only in the overall score
    references = {k: [v] for k, v in predictions.items()}
    seen = []

    def score_fn(p, r):
        seen.append(sorted(p))
        assert set(p) == set(r)
        return {"cider": float(len(p)), "bleu4": 0.5, "n": len(p)}

    out = domain_scores(predictions, references, str(tmp_path / "d.json"), score_fn)
    assert seen == [[1, 3], [2]]
    assert out == {
        "cider_in-domain": 2.0,
        "bleu4_in-domain": 0.5,
        "n_in-domain": 2,
        "cider_out-domain": 1.0,
        "bleu4_out-domain": 0.5,
        "n_out-domain": 1,
    }


def test_metric_arguments_are_checked(tmp_path):
    parser = evaluate.build_parser()
    with pytest.raises(SystemExit, match="needs --gt-objects"):
        check_arguments(
            parser.parse_args(["c.pt", "--data", "d", "--results-path", "r", "--metric", "chair"])
        )
    with pytest.raises(SystemExit, match="--task only applies with --zero-shot"):
        check_arguments(
            parser.parse_args(["c.pt", "--data", "d", "--results-path", "r", "--task", "vqa_gen"])
        )
    args = parser.parse_args(
        [
            "c.pt",
            "--data",
            str(tmp_path / "x.tsv"),
            "--results-path",
            str(tmp_path),
            "--metric",
            "pope",
        ]
    )
    with pytest.raises(SystemExit, match="x.labels.json not found"):
        record_probe_scores(args, [{"question_id": 1, "answer": "yes"}])
    with pytest.raises(SystemExit, match="does not apply to a captioning task"):
        caption_probe_scores(args, {1: "a"}, {1: ["a"]}, lambda p, r: {})


def test_pope_metric_reads_the_side_file_beside_the_data(tmp_path):
    labels = {
        "1": {"label": "yes", "strategy": "random"},
        "2": {"label": "no", "strategy": "random"},
        "3": {"label": "no", "strategy": "popular"},
    }
    (tmp_path / "p.labels.json").write_text(json.dumps(labels))
    args = evaluate.build_parser().parse_args(
        [
            "c.pt",
            "--data",
            str(tmp_path / "p.tsv"),
            "--results-path",
            str(tmp_path),
            "--metric",
            "pope",
        ]
    )
    out = record_probe_scores(
        args,
        [
            {"question_id": 1, "answer": "yes"},
            {"question_id": 2, "answer": "yes"},
            {"question_id": 3, "answer": "no"},
        ],
    )
    # TP 1, FP 1, TN 1: accuracy 2/3, precision 1/2, recall 1, yes-ratio 2/3
    assert out["pope_accuracy"] == pytest.approx(2 / 3) and out["pope_precision"] == 0.5
    assert out["pope_recall"] == 1.0 and out["pope_yes_ratio"] == pytest.approx(2 / 3)
    assert out["pope_random_accuracy"] == 0.5 and out["pope_popular_accuracy"] == 1.0
