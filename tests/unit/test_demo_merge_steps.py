"""The command lines of ``python -m unival.demo.merge``: eval options from the run scripts,
sweep arguments accepted by ``unival merge``, the BatchNorm-statistics rule."""

import re
from pathlib import Path

import torch

from unival import build_model
from unival.demo.context import demo_environment
from unival.demo.merge.pipeline import SMOKE
from unival.demo.merge.steps import (
    BN_STATISTICS,
    EXPERTS,
    eval_options,
    pair_sweep_argv,
    task_vector_sweep_argv,
)
from unival.merging.parser import build_parser


def test_bn_statistics_pattern_selects_exactly_the_running_statistics_buffers():
    model = build_model("unival_tiny", vocab_size=64, video_encoder_name="none")
    pattern = re.compile(BN_STATISTICS)
    selected = {key for key in model.state_dict() if pattern.search(key)}
    buffers = {name for name, _ in model.named_buffers()}
    parameters = {name for name, _ in model.named_parameters()}
    assert selected and selected <= buffers and not selected & parameters
    bn = [
        name for name, module in model.named_modules() if isinstance(module, torch.nn.BatchNorm2d)
    ]
    assert selected == {f"{name}.{stat}" for name in bn for stat in ("running_mean", "running_var")}


def _world(tmp_path):
    data = {e.name: tmp_path / f"{e.prefix}_valid.tsv" for e in EXPERTS}
    for path in data.values():
        path.write_text("")
    return data


def test_eval_options_are_what_each_eval_sh_runs(tmp_path):
    data = _world(tmp_path)
    options = {e.name: eval_options(e, SMOKE, data[e.name], demo_environment()) for e in EXPERTS}
    assert "--beam=2" in options["caption"] and "--selected-cols=1,4,2" in options["caption"]
    assert "--val-inference-type=beamsearch" in options["vqa"] and "--beam=5" in options["vqa"]
    assert "--max-len-b=4" in options["refcoco"]
    for expert_options in options.values():
        assert "--cpu" in expert_options and "--patch-image-size=64" in expert_options
        assert not [
            o for o in expert_options if o.startswith(("--data", "--results-path", "--ema-eval"))
        ]


def test_sweep_arguments_parse_with_unival_merge(tmp_path):
    data = _world(tmp_path)
    options = {e.name: ["--cpu"] for e in EXPERTS}
    checkpoints = {e.name: Path(f"{e.name}.pt") for e in EXPERTS}
    caption, vqa, _ = EXPERTS
    pair = build_parser().parse_args(
        pair_sweep_argv(
            caption,
            vqa,
            checkpoints,
            [0.0, 1.0],
            data,
            options,
            tmp_path / "out",
            tmp_path / "work",
        )
    )
    assert (pair.method, pair.checkpoints, pair.lambdas) == (
        "interpolate",
        ["caption.pt", "vqa.pt"],
        [0.0, 1.0],
    )
    assert (
        pair.eval == [f"caption={data['caption']}", f"vqa_gen={data['vqa']}"]
        and pair.frozen_keys == []
    )
    ties = build_parser().parse_args(
        task_vector_sweep_argv(
            "ties",
            Path("base.pt"),
            checkpoints,
            [1.0],
            0.2,
            data,
            options,
            tmp_path / "out",
            tmp_path / "work",
        )
    )
    assert (ties.method, ties.base, ties.density, ties.scales) == ("ties", "base.pt", 0.2, [1.0])
    assert [p.pattern for p in ties.frozen_keys] == [BN_STATISTICS]
    assert [e.split("=")[0] for e in ties.eval] == ["caption", "vqa_gen", "refcoco"]
