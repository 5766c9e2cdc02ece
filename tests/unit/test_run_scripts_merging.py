"""The merging recipes (run_scripts/merging) render the paper's merging commands.

Rendering and parsing use the helpers of ``test_run_scripts`` (which also checks syntax,
parsing and the duplicate-flag guard of every script); expected paths and values are written
out by hand.
"""

from pathlib import Path

from test_run_scripts import (  # noqa: F401
    RUN_SCRIPTS,
    machine,
    parse_command,
    render,
    rendered_argv,
    rendered_commands,
)

from unival.merging.sweep_eval import build_evaluations

MERGING = RUN_SCRIPTS / "merging"
IMAGE_EXPERTS = ("caption", "vqa", "refcoco", "snli_ve")


def _parsed(script, env, *args):
    return [parse_command(argv) for argv in rendered_commands(MERGING / script, env, *args)]


def _expert(out, recipe):
    return f"{out}/{recipe}/{recipe}_unival_base/checkpoint_best.pt"


def _eval_options(env, recipe, tsv):
    """What `unival eval` gets from RECIPE/eval.sh for a merged model (EMA_EVAL=0), minus
    checkpoint, --data and --results-path."""
    argv = rendered_argv(
        RUN_SCRIPTS / recipe / "eval.sh",
        {**env, "TEST_DATA": tsv, "CHECKPOINT": "c.pt", "EMA_EVAL": "0"},
    )
    return [a for a in argv[3:] if not a.startswith(("--data=", "--results-path="))]


def test_interpolate_sweeps_every_pair_of_the_four_image_experts(machine):  # noqa: F811
    commands = _parsed("interpolate.sh", machine)
    data, out = machine["UNIVAL_DATA"], machine["UNIVAL_OUT"]
    valid = {
        "caption": ("caption", f"{data}/caption_valid.tsv"),
        "vqa": ("vqa_gen", f"{data}/vqa/vqa_val.tsv"),
        "refcoco": ("refcoco", f"{data}/refcoco/refcoco_val.tsv"),
        "snli_ve": ("snli_ve", f"{data}/snli_ve/snli_ve_dev.tsv"),
    }
    pairs = [(a, b) for i, a in enumerate(IMAGE_EXPERTS) for b in IMAGE_EXPERTS[i + 1 :]]
    assert len(commands) == len(pairs) == 6
    for (kind, args), (a, b) in zip(commands, pairs):
        assert kind == "merge" and args.command == "sweep" and args.method == "interpolate"
        assert args.checkpoints == [_expert(out, a), _expert(out, b)]
        assert args.lambdas == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
        assert (args.out_dir, args.name) == (f"{out}/merging/interpolate/{a}_{b}", f"{a}_{b}")
        assert args.eval == [f"{valid[r][0]}={valid[r][1]}" for r in (a, b)]
        assert [item.split("=", 1)[0] for item in args.eval_args] == [valid[a][0], valid[b][0]]
        for item, recipe in zip(args.eval_args, (a, b)):
            assert item.split("=", 1)[1].split() == _eval_options(machine, recipe, valid[recipe][1])
        assert not args.delete_checkpoints and not args.ema

    # the options are the sweep's: the evaluations build, with each task's own settings
    _, args = commands[0]
    for _, tsv in valid.values():
        Path(tsv).parent.mkdir(parents=True, exist_ok=True)
        Path(tsv).write_text("")
    caption, vqa = build_evaluations(args.eval, args.eval_args, args.metric)
    assert (caption.task, caption.metric, vqa.task, vqa.metric) == (
        "caption",
        "cider",
        "vqa_gen",
        "vqa_score",
    )
    assert {
        "--beam=5",
        "--max-len-b=22",
        "--no-repeat-ngram-size=3",
        "--unnormalized",
        "--cpu",
    } <= set(caption.options)
    assert {
        "--val-inference-type=beamsearch",
        "--max-len-b=200",
        "--selected-cols=0,5,2,3,4",
    } <= set(vqa.options)
    assert "--ema-eval" not in vqa.options  # a merged checkpoint has no EMA weights


def test_interpolate_settings_and_trailing_arguments(machine):  # noqa: F811
    env = {
        **machine,
        "EXPERTS": "caption=/x/a.pt caption=/x/b.pt refcoco",
        "LAMBDAS": "0,0.5,1",
        "SWEEP_DATA": "caption=/v/c.tsv",
        "DATASET": "refcocog",
        "DEVICE": "gpu",
        "SWEEP_DIR": "/s",
        "EXTRA_ARGS": "--ema",
    }
    commands = _parsed("interpolate.sh", env, "--delete-checkpoints")
    data, out = machine["UNIVAL_DATA"], machine["UNIVAL_OUT"]
    assert [args.checkpoints for _, args in commands] == [
        ["/x/a.pt", "/x/b.pt"],
        ["/x/a.pt", f"{out}/refcoco/refcocog_unival_base/checkpoint_best.pt"],
        ["/x/b.pt", f"{out}/refcoco/refcocog_unival_base/checkpoint_best.pt"],
    ]
    _, first = commands[0]
    assert first.eval == ["caption=/v/c.tsv"]  # two caption experts: evaluated once
    assert first.lambdas == [0.0, 0.5, 1.0] and first.out_dir == "/s/caption_caption"
    assert first.delete_checkpoints and first.ema
    _, second = commands[1]
    assert second.eval == ["caption=/v/c.tsv", f"refcoco={data}/refcocog/refcocog_val.tsv"]
    assert all("--fp16" in item.split() for item in second.eval_args)


def test_ratatouille_refinetunes_the_auxiliary_models_then_averages_and_evaluates(machine):  # noqa: F811
    commands = _parsed("ratatouille.sh", machine, "--max-update=5")
    data, out = machine["UNIVAL_DATA"], machine["UNIVAL_OUT"]
    run_dir = f"{out}/merging/ratatouille/caption_unival_base"
    assert [kind for kind, _ in commands] == ["train", "train", "train", "merge", "eval"]
    for (_, args), aux in zip(commands[:3], ("vqa", "refcoco", "snli_ve")):
        assert args.task == "caption" and args.restore_file == _expert(out, aux)
        assert args.save_dir == f"{run_dir}/init_{aux}" and args.max_update == 5
        assert args.data == f"{data}/caption_train.tsv,{data}/caption_valid.tsv"
        assert args.reset_optimizer and args.reset_dataloader and args.reset_meters
    _, merge = commands[3]
    assert merge.command == "average" and merge.weights is None and not merge.ema
    assert merge.checkpoints == [_expert(out, "caption")] + [
        f"{run_dir}/init_{aux}/checkpoint_best.pt" for aux in ("vqa", "refcoco", "snli_ve")
    ]
    assert merge.out == f"{run_dir}/ratatouille.pt"
    _, evaluation = commands[4]
    assert evaluation.checkpoint == f"{run_dir}/ratatouille.pt"
    assert (
        evaluation.data == f"{data}/caption_test.tsv"
        and evaluation.results_path == f"{run_dir}/eval_ratatouille"
    )


def test_ratatouille_for_vqa_without_its_expert(machine):  # noqa: F811
    env = {
        **machine,
        "TARGET": "vqa",
        "TARGET_EXPERT": "none",
        "MERGE_ARGS": "--ema --force",
        "AUXILIARY": "caption refcoco=/x/ref.pt",
        "EXTRA_ARGS": "--patience=2",
    }
    commands = _parsed("ratatouille.sh", env)
    out = machine["UNIVAL_OUT"]
    assert [kind for kind, _ in commands] == ["train", "train", "merge", "eval"]
    _, evaluation = commands[3]
    assert evaluation.data == f"{machine['UNIVAL_DATA']}/vqa/vqa_val.tsv"
    assert not getattr(evaluation, "ema_eval", False)  # the average has no EMA weights
    assert [kind for kind, _ in _parsed("ratatouille.sh", {**env, "EVALUATE": "0"})] == [
        "train",
        "train",
        "merge",
    ]
    assert [(a.task, a.restore_file, a.patience) for _, a in commands[:2]] == [
        ("vqa_gen", _expert(out, "caption"), 2),
        ("vqa_gen", "/x/ref.pt", 2),
    ]
    _, merge = commands[2]
    run_dir = f"{out}/merging/ratatouille/vqa_unival_base"
    assert merge.checkpoints == [
        f"{run_dir}/init_caption/checkpoint_best.pt",
        f"{run_dir}/init_refcoco/checkpoint_best.pt",
    ]
    assert merge.ema and merge.force  # MERGE_ARGS, not EXTRA_ARGS, reach the merge


def test_fusing_averages_the_experts_then_finetunes_the_average(machine):  # noqa: F811
    env = {**machine, "MERGE_ARGS": "--weights 0.4,0.2,0.2,0.2", "LR": "2e-5", "MAX_EPOCH": "2"}
    commands = _parsed("fusing.sh", env, "--patience=3")
    data, out = machine["UNIVAL_DATA"], machine["UNIVAL_OUT"]
    run_dir = f"{out}/merging/fusing/caption_unival_base"
    assert [kind for kind, _ in commands] == ["merge", "train", "eval"]
    _, merge = commands[0]
    assert merge.command == "average" and merge.checkpoints == [
        _expert(out, r) for r in IMAGE_EXPERTS
    ]
    assert merge.weights == [0.4, 0.2, 0.2, 0.2] and merge.out == f"{run_dir}/average.pt"
    _, train = commands[1]
    assert train.task == "caption" and train.restore_file == f"{run_dir}/average.pt"
    assert train.save_dir == f"{run_dir}/finetune" and train.max_epoch == 2 and train.lr == [2e-5]
    assert train.patience == 3
    assert train.data == f"{data}/caption_train.tsv,{data}/caption_valid.tsv"
    _, evaluation = commands[2]
    assert evaluation.checkpoint == f"{run_dir}/finetune/checkpoint_best.pt"
    assert evaluation.results_path == f"{run_dir}/finetune/eval_fused"


def test_bad_recipe_lists_fail_before_printing_anything(machine):  # noqa: F811
    for script, env, message in (
        ("interpolate.sh", {"EXPERTS": "caption foo"}, "unknown recipe 'foo' (have: caption vqa"),
        ("interpolate.sh", {"EXPERTS": "caption"}, "EXPERTS needs at least two recipes"),
        ("fusing.sh", {"TARGET": "coco"}, "unknown recipe 'coco'"),
        ("ratatouille.sh", {"AUXILIARY": "", "TARGET_EXPERT": "none"}, "nothing to average"),
    ):
        proc = render(MERGING / script, {**machine, **env})
        assert proc.returncode == 2 and proc.stdout == "" and message in proc.stderr, (
            script,
            proc.stderr,
        )
    env = {k: v for k, v in machine.items() if k != "UNIVAL_OUT"}
    proc = render(MERGING / "fusing.sh", {**env, "OUT_DIR": "/o"})
    assert (
        proc.returncode == 2
        and "UNIVAL_OUT is not set" in proc.stderr
        and "caption=CHECKPOINT" in proc.stderr
    )
