"""The parts of ``unival merge sweep`` that need no model: options, grid, merges, task configs,
CSV, plot."""

import argparse
import re

import pytest
import torch

from unival.merging import interpolate, ties_merge
from unival.merging.checkpoint import load_checkpoint
from unival.merging.parser import build_parser
from unival.merging.plot import SweepRow, plot_sweep, read_csv, series, write_csv
from unival.merging.sweep import GridMerger, sweep_grid, task_configs
from unival.merging.sweep_eval import build_evaluations, metric_value, saved_task_name

FC = "encoder.layers.0.fc1.weight"
EMBED = "decoder.output_projection.weight"


def sweep_args(*argv):
    return build_parser().parse_args(["sweep", *map(str, argv)])


@pytest.fixture
def tsv(tmp_path):
    path = tmp_path / "valid.tsv"
    path.write_text("row\n")
    return str(path)


def test_evaluations_take_all_options_first_then_their_own(tsv):
    evaluations = build_evaluations(
        [f"caption={tsv}", f"refcoco.small={tsv}"],
        ["all=--cpu --batch-size 4", "refcoco.small=--max-area-size 1024 --beam=3"],
        ["refcoco.small=acc@0.5"],
    )
    assert [(e.name, e.task, e.data, e.metric) for e in evaluations] == [
        ("caption", "caption", tsv, "cider"),
        ("refcoco.small", "refcoco", tsv, "acc@0.5"),
    ]
    assert evaluations[0].options == ["--cpu", "--batch-size", "4"]
    assert evaluations[1].options == [
        "--cpu",
        "--batch-size",
        "4",
        "--max-area-size",
        "1024",
        "--beam=3",
    ]


@pytest.mark.parametrize(
    "evals, eval_args, metrics, message",
    [
        (["caption"], [], [], r"--eval 'caption': expected NAME=VALUE"),
        (["caption={tsv}", "caption={tsv}"], [], [], "--eval: caption is given twice"),
        (
            ["caption={tsv}"],
            ["vqa_gen=--cpu"],
            [],
            "--eval-args names vqa_gen, which no --eval defines",
        ),
        (
            ["caption={tsv}"],
            [],
            ["caption.x=bleu4"],
            "--metric names caption.x, which no --eval defines",
        ),
        (["caption={tsv}"], ["caption=--data=x.tsv"], [], "--data is set by the sweep"),
        (["caption={tsv}"], ["all=--results-path out"], [], "--results-path is set by the sweep"),
        (["caption={tsv}"], ["caption=--beam five"], [], "'unival eval' rejects '--beam five'"),
        (
            ["caption={tsv}"],
            ["caption=--ema-eval"],
            [],
            "drop --ema-eval (merge EMA weights with --ema)",
        ),
        (["Caption={tsv}"], [], [], "the name must be TASK or TASK.LABEL"),
        (["all={tsv}"], [], [], "'all' is reserved"),
        (["caption=missing.tsv"], [], [], "--eval caption=missing.tsv: no such file"),
        (
            ["my_task={tsv}"],
            [],
            [],
            "no default metric for task my_task; pass --metric my_task=KEY",
        ),
    ],
)
def test_bad_evaluation_options_are_refused_with_the_option_named(
    tsv, evals, eval_args, metrics, message
):
    with pytest.raises((ValueError, FileNotFoundError), match=re.escape(message)):
        build_evaluations([e.format(tsv=tsv) for e in evals], eval_args, metrics)


def test_metric_values_must_exist_and_be_finite_numbers(tmp_path):
    scores = tmp_path / "scores.json"
    scores.write_text('{"cider": 0.25, "n": 3, "bad": NaN, "text": "x"}')
    assert metric_value(str(scores), "cider") == 0.25
    with pytest.raises(RuntimeError, match=r"has no 'bleu4' \(keys: cider, n, bad, text\)"):
        metric_value(str(scores), "bleu4")
    for key in ("bad", "text"):
        with pytest.raises(RuntimeError, match=f"{key} is .*, not a finite number"):
            metric_value(str(scores), key)


def test_grid_options_must_fit_the_method(tsv):
    common = ["--eval", f"caption={tsv}", "--out-dir", "o"]
    assert sweep_grid(sweep_args("a.pt", "b.pt", "--lambdas", "1,0.5", *common)) == [1.0, 0.5]
    assert sweep_grid(sweep_args("a.pt", "b.pt", *common)) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    bad = [
        (["a.pt", "--lambdas", "0,1"], "interpolate needs exactly two checkpoints A B, got 1"),
        (["a.pt", "b.pt", "--base", "c.pt"], "--base: only for --method task-arithmetic or ties"),
        (["a.pt", "b.pt", "--density", "0.5"], "--density: only for --method"),
        (["a.pt", "b.pt", "--lambdas", "0.001,0.002"], "repeats _l0.00"),
        (["a.pt", "--method", "ties", "--base", "c.pt"], "--density is required by --method ties"),
        (["a.pt", "--method", "task-arithmetic"], "needs --base"),
        (
            ["a.pt", "--method", "task-arithmetic", "--base", "c.pt", "--lambdas", "1"],
            "sweeps --scales",
        ),
    ]
    for argv, message in bad:
        with pytest.raises(ValueError, match=message):
            sweep_grid(sweep_args(*argv, *common))


def test_grid_merges_equal_the_merge_functions(tmp_path, write_checkpoint, tied_state, tsv):
    write_checkpoint(
        tmp_path / "base.pt", tied_state([[0.0, 0.0], [0.0, 0.0]], [1.0, 1.0, 1.0, 1.0])
    )
    write_checkpoint(
        tmp_path / "t1.pt", tied_state([[2.0, 0.0], [0.0, 0.0]], [4.0, 0.0, 1.5, -1.0])
    )
    write_checkpoint(
        tmp_path / "t2.pt", tied_state([[0.0, 4.0], [0.0, 0.0]], [-3.0, 3.0, 2.0, 0.0])
    )
    paths = [tmp_path / name for name in ("base.pt", "t1.pt", "t2.pt")]
    base, t1, t2 = (load_checkpoint(p).weights for p in paths)
    common = ["--eval", f"caption={tsv}", "--out-dir", tmp_path / "o"]

    merger = GridMerger(sweep_args(paths[1], paths[2], *common))
    for lam in (0.0, 0.3, 1.0):
        merged = merger.merged(lam)
        expected = interpolate(t1, t2, lam)
        assert all(torch.equal(merged[key], expected[key]) for key in expected)
    # fc: 0.3 * [4, 0, 1.5, -1] + 0.7 * [-3, 3, 2, 0] by hand
    assert torch.allclose(merger.merged(0.3)[FC], torch.tensor([-0.9, 2.1, 1.85, -0.3]))

    merger = GridMerger(
        sweep_args(
            paths[1],
            paths[2],
            "--method",
            "ties",
            "--base",
            paths[0],
            "--density",
            "0.5",
            "--dare",
            "0.5",
            "--seed",
            "3",
            *common,
        )
    )
    for scale in (0.0, 0.5, 1.0):
        merged = merger.merged(scale)
        expected = ties_merge(base, [t1, t2], 0.5, scale, dare_rate=0.5, seed=3)
        assert all(torch.equal(merged[key], expected[key]) for key in expected)
        assert merged[EMBED] is merged["encoder.embed_tokens.weight"]  # ties stay shared
    assert all(torch.equal(merger.merged(0.0)[key], base[key]) for key in base)
    metadata = merger.metadata(0.5, [0.0, 0.5, 1.0], merger.template)
    assert metadata["method"] == "ties" and metadata["inputs"][0]["role"] == "base"
    assert {
        k: metadata["hyperparameters"][k]
        for k in ("scale", "scales", "density", "dare_rate", "seed")
    } == {"scale": 0.5, "scales": [0.0, 0.5, 1.0], "density": 0.5, "dare_rate": 0.5, "seed": 3}


def test_each_task_is_evaluated_with_the_config_of_an_input_saved_for_it(
    tmp_path, checkpoint_pair, tsv
):
    a, b = checkpoint_pair  # saved with tasks "caption" and "vqa"
    common = [a, b, "--out-dir", tmp_path / "o"]
    args = sweep_args(
        *common,
        "--eval",
        f"caption={tsv}",
        f"vqa={tsv}",
        f"vqa.other={tsv}",
        "--metric",
        "vqa=acc",
        "vqa.other=acc",
    )
    evaluations = build_evaluations(args.eval, args.eval_args, args.metric)
    merger = GridMerger(args)
    configs = task_configs(evaluations, merger.task_config_candidates(), args)
    assert {task: config.path for task, config in configs.items()} == {
        "caption": str(a),
        "vqa": str(b),
    }
    assert configs["caption"] is merger.template

    args = sweep_args(*common, "--eval", f"snli_ve={tsv}")
    with pytest.raises(
        ValueError,
        match=rf"no input checkpoint was saved with task snli_ve \({a}: caption, "
        rf"{b}: vqa\); name one with --task-config snli_ve=CKPT",
    ):
        task_configs(
            build_evaluations(args.eval, [], []), GridMerger(args).task_config_candidates(), args
        )
    args = sweep_args(*common, "--eval", f"caption={tsv}", "--task-config", f"caption={b}")
    with pytest.raises(
        ValueError, match=f"--task-config caption={b}: that checkpoint was saved with task vqa"
    ):
        task_configs(
            build_evaluations(args.eval, [], []), GridMerger(args).task_config_candidates(), args
        )


def test_saved_task_name_reads_cfg_or_legacy_args():
    assert saved_task_name({"cfg": {"task": {"_name": "caption"}}}) == "caption"
    assert saved_task_name({"cfg": {"task": argparse.Namespace(_name="refcoco")}}) == "refcoco"
    assert saved_task_name({"cfg": None, "args": argparse.Namespace(task="vqa_gen")}) == "vqa_gen"
    assert saved_task_name({}) is None


def test_csv_round_trips_exactly_and_the_plot_is_a_png(tmp_path):
    rows = [
        SweepRow("interpolate", lam, task, metric, value, f"m_l{lam:.2f}.pt")
        for lam in (0.0, 0.1, 1.0)
        for task, metric, value in (
            ("caption", "cider", lam / 3),
            ("vqa_gen", "vqa_score", 1 - lam / 7),
        )
    ]
    path = write_csv(rows, str(tmp_path / "s.csv"))
    assert (tmp_path / "s.csv").read_text().splitlines()[:2] == [
        "method,lambda,task,metric,value,checkpoint",
        "interpolate,0.0,caption,cider,0.0,m_l0.00.pt",
    ]
    assert read_csv(path) == rows
    assert series(list(reversed(rows)))[("caption", "cider")] == [
        (0.0, 0.0),
        (0.1, 0.1 / 3),
        (1.0, 1 / 3),
    ]
    png = plot_sweep(rows, str(tmp_path / "plot" / "s.png"), title="t")
    assert (tmp_path / "plot" / "s.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.endswith(
        "s.png"
    )
    (tmp_path / "bad.csv").write_text("method,lambda,task,metric,value,checkpoint\ni,x,c,m,1,p\n")
    with pytest.raises(ValueError, match="bad.csv, line 2"):
        read_csv(str(tmp_path / "bad.csv"))
