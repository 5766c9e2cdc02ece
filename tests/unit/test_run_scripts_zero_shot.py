"""The zero-shot run scripts render the original zero-shot evaluation, values by hand.

Rendering and parsing use the helpers of ``test_run_scripts`` (which also checks syntax,
parsing and the duplicate-flag guard of every script, these included).
"""

import pytest
from test_run_scripts import RUN_SCRIPTS, machine, parse_command, rendered_argv  # noqa: F401

from unival.evaluation.loading import model_overrides, task_overrides


def _eval(name, env):
    kind, args = parse_command(rendered_argv(RUN_SCRIPTS / "zero_shot" / f"{name}.sh", env))
    assert kind == "eval"
    return args


def test_nocaps_is_the_caption_test_with_domains(machine):  # noqa: F811
    args = _eval("nocaps", machine)
    data, out = machine["UNIVAL_DATA"], machine["UNIVAL_OUT"]
    assert args.zero_shot and args.task == "caption" and not args.noconstraints
    assert (
        args.data == f"{data}/nocaps/nocaps_val.tsv"
        and args.domains == f"{data}/nocaps/nocaps_val_domains.json"
    )
    assert args.checkpoint == f"{out}/caption/caption_unival_base/checkpoint_best.pt"
    assert args.results_path == f"{out}/zero_shot/nocaps_caption_unival_base"
    assert (args.beam, args.max_len_b, args.no_repeat_ngram_size, args.unnormalized) == (
        5,
        22,
        3,
        True,
    )
    assert (args.selected_cols, args.patch_image_size, args.cpu) == ("1,4,2", 480, True)
    assert model_overrides(args) == {"sample_patch_num": 776}


@pytest.mark.parametrize("name", ["vizwiz", "okvqa"])
def test_zero_shot_vqa_decodes_unconstrained_without_prompt(name, machine):  # noqa: F811
    args = _eval(name, machine)
    assert (
        args.zero_shot
        and args.task == "vqa_gen"
        and args.noconstraints
        and args.prompt_type == "none"
    )
    assert args.data == f"{machine['UNIVAL_DATA']}/{name}/{name}_acc_val.tsv"
    assert args.checkpoint == f"{machine['UNIVAL_OUT']}/vqa/vqa_unival_base/checkpoint_best.pt"
    assert (args.beam, args.unnormalized, args.temperature, args.no_repeat_ngram_size) == (
        5,
        True,
        1.0,
        0,
    )
    assert args.selected_cols == "0,5,2,3,4" and not args.ema_eval and args.ans2label_file is None
    assert task_overrides(args) == {
        "prompt_type": "none",
        "unconstrained_training": True,
        "val_inference_type": "beamsearch",
        "constraint_range": None,
    }
    args = _eval(name, {**machine, "ANS2LABEL": "/x/a.pkl", "EMA_EVAL": "1", "DEVICE": "gpu"})
    assert args.ans2label_file == "/x/a.pkl" and args.ema_eval and args.fp16 and not args.cpu
