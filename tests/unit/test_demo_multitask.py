"""``make demo``'s multitask and media stages: baselines, floors, and the training / evaluation
commands they hand to the run scripts (rendered with ``DRY_RUN=1``)."""

import json
import shlex
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from unival.commands.demo import main as demo_main
from unival.demo.context import RUN_SCRIPTS, demo_environment
from unival.demo.multitask import SMOKE, MultitaskSettings
from unival.demo.recipes import eval_env, finetune_env, pretrain_env, write_grounding_stream
from unival.demo.tasks import (
    AUDIO_TASK,
    IMAGE_TASKS,
    VIDEO_TASKS,
    answer_of,
    saved_baseline,
    task_result,
    video_qa_baseline,
)

TASKS = {t.name: t for t in (*IMAGE_TASKS, *VIDEO_TASKS, AUDIO_TASK)}


def test_answer_of_reads_the_official_refs_field():
    assert answer_of("1.0|!+two") == "two"
    assert answer_of("0.6|!+no&&0.4|!+yes") == "no"


def test_video_qa_baseline_is_the_majority_training_answer(tmp_path):
    rows = [
        "0\t0\tq\t1.0|!+two\t\tv.mp4",
        "1\t0\tq\t1.0|!+two\t\tv.mp4",
        "2\t0\tq\t1.0|!+red\t\tv.mp4",
    ]
    (tmp_path / "video_qa_train.tsv").write_text("\n".join(rows) + "\n")
    test = tmp_path / "video_qa_test.tsv"
    test.write_text(
        "\n".join(
            [
                "5\t1\tq\t1.0|!+two\t\tw.mp4",
                "6\t1\tq\t1.0|!+red\t\tw.mp4",
                "7\t1\tq\t1.0|!+fast\t\tw.mp4",
                "8\t1\tq\t1.0|!+two\t\tw.mp4",
            ]
        )
        + "\n"
    )
    name, score = video_qa_baseline(tmp_path, test)
    assert name == 'majority answer "two"' and score == 0.5


def test_saved_baseline_reads_the_test_split(tmp_path):
    (tmp_path / "baselines.json").write_text(
        json.dumps(
            {
                "test": {"snli_ve": {"majority_class": "neutral", "majority_class_accuracy": 0.4}},
                "valid": {"snli_ve": {"majority_class": "yes", "majority_class_accuracy": 0.9}},
            }
        )
    )
    read = saved_baseline("snli_ve", "majority_class_accuracy", 'majority class "{majority_class}"')
    assert read(tmp_path, tmp_path / "unused.tsv") == ('majority class "neutral"', 0.4)


def test_floor_is_twice_the_baseline_and_a_zero_baseline_is_not_beaten_by_zero():
    task = TASKS["vqa"]
    assert (
        task_result(task, 0.4, "b", 0.2)["floor_met"]
        and task_result(task, 0.4, "b", 0.2)["floor"] == 0.4
    )
    low = task_result(task, 0.39, "b", 0.2)
    assert not low["floor_met"] and low["aim"] == 0.8 and low["aim_met"] is False
    assert not task_result(task, 0.0, "b", 0.0)["floor_met"]
    assert task_result(TASKS["caption"], 5.0, "b", 1.0)["aim_met"] is None  # no aim: beat the floor


def _render(script: str, env: dict) -> list:
    """The command ``run_scripts/<script>/train.sh`` (or eval.sh) would run, as argv."""
    proc = subprocess.run(
        ["bash", str(RUN_SCRIPTS / script)],
        env={**demo_environment(), **env, "DRY_RUN": "1"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return shlex.split(proc.stdout.strip())


def _flags(argv: list) -> dict:
    flags = {}
    for arg in argv:
        if arg.startswith("--"):
            key, _, value = arg.partition("=")
            flags[key] = value
    return flags


@pytest.fixture()
def world(tmp_path):
    (tmp_path / "dict.txt").write_text("a 1\n")
    return tmp_path


def test_pretraining_is_stage1_from_scratch_with_the_budget(world):
    s = MultitaskSettings()
    flags = _flags(_render("pretraining/stage1.sh", pretrain_env(s, world, world / "base")))
    assert flags["--task"] == "unify_task" and flags["--arch"] == "unival_tiny"
    assert flags["--max-update"] == str(s.pretrain.updates) and "--restore-file" not in flags
    assert float(flags["--stop-time-hours"]) == pytest.approx(s.pretrain.minutes / 60, abs=1e-4)
    assert "--augment-ops" not in flags  # unify_task's default: the recipe's ten ops


def test_the_base_can_train_with_chosen_augment_ops(world):
    s = replace(MultitaskSettings(), pretrain_augment_ops="Identity,Rotate")
    flags = _flags(_render("pretraining/stage1.sh", pretrain_env(s, world, world / "base")))
    assert flags["--augment-ops"] == "Identity,Rotate"


def test_a_grounding_heavy_base_reads_the_grounding_rows_as_a_second_stream(world):
    rows = [
        "0\timages/0.png\ta red circle\t\t\tred circle\ttoy_caption\tcaption",
        "1\timages/1.png\tthe blue square\t\t3,4,20,21\tblue square\ttoy_refcoco\tvisual_grounding",
        "2\timages/2.png\t\tis there a circle?\t1.0|!+no\t\ttoy_vqa\tqa",
    ]
    (world / "pretrain_train.tsv").write_text("\n".join(rows) + "\n")
    stream = write_grounding_stream(world)
    assert stream.read_text().splitlines() == [rows[1]]
    s = replace(MultitaskSettings(), pretrain_ground_every=2)
    flags = _flags(_render("pretraining/stage1.sh", pretrain_env(s, world, world / "base")))
    assert flags["--image-text-ground-data"] == str(stream)
    assert flags["--image-text-ground-cnt"] == "2"
    plain_env = pretrain_env(replace(s, pretrain_ground_every=0), world, world / "base")
    plain = _flags(_render("pretraining/stage1.sh", plain_env))
    assert "--image-text-ground-data" not in plain


@pytest.mark.parametrize("name", sorted(TASKS))
def test_each_finetune_restores_the_base_and_keeps_its_budget(world, name):
    s, task = MultitaskSettings(), TASKS[name]
    base = world / "base.pt"
    env = finetune_env(task, s, world, world / "train.tsv", base, world / "ckpt", stop_hours=0.5)
    argv = _render(f"{task.script}/train.sh", env)
    flags = _flags(argv)
    assert argv[1].startswith(str(world / "train.tsv"))
    assert flags["--restore-file"] == str(base) and flags["--max-update"] == str(
        s.experts[name].updates
    )
    assert flags["--stop-time-hours"] == "0.50000" and "--disable-validation" in flags
    assert float(flags["--lr"]) == (s.experts[name].lr or s.expert_lr)
    if task.media == "video":
        assert (flags["--num-frames"], flags["--patch-frame-size"]) == (
            str(s.num_frames),
            str(s.video_size),
        )
        assert "--video-encoder-name" not in flags  # unival_tiny's own small ResNeXt-3D
    elif task.media == "audio":
        assert flags["--audio-encoder-name"] == s.audio_encoder
        assert flags["--sample-rate"] == str(s.audio_sample_rate) and flags["--mel-bins"] == str(
            s.mel_bins
        )
        assert (
            flags["--max-audio-len"] == str(s.max_audio_len)
            and flags["--video-encoder-name"] == "none"
        )
        assert "--no-audio-spec-augment" in flags and flags["--batch-size"] == "8"
    else:
        assert flags["--video-encoder-name"] == "none" and flags["--patch-image-size"] == "64"


def test_audio_from_scratch_has_no_restore_file(world):
    env = finetune_env(
        AUDIO_TASK, MultitaskSettings(), world, world / "t.tsv", None, world / "c", 0.1
    )
    assert "--restore-file" not in _flags(_render("audio_caption/train.sh", env))


@pytest.mark.parametrize("name", sorted(TASKS))
def test_each_evaluation_is_the_eval_script_on_the_test_split(world, name):
    task = TASKS[name]
    argv = _render(
        f"{task.script}/eval.sh", eval_env(task, SMOKE, world, world / "m.pt", world / "r")
    )
    flags = _flags(argv)
    assert argv[1:3] == ["eval", str(world / "m.pt")] and flags["--data"] == str(
        task.test_tsv(world)
    )
    assert "--ema-eval" not in flags  # the demo trains without EMA
    if name.endswith("caption"):
        assert flags["--beam"] == str(SMOKE.caption_beam)


def test_media_stage_needs_the_multitask_base(tmp_path):
    with pytest.raises(SystemExit, match="multitask"):
        demo_main(["--out", str(tmp_path), "--stages", "media"])
    with pytest.raises(SystemExit, match="unknown stage"):
        demo_main(["--out", str(tmp_path), "--stages", "multitask,videos"])
    assert not any(Path(tmp_path).iterdir())


def test_probes_stage_scores_chair_of_predictions_and_a_zero_control(tmp_path):
    from unival.demo.probes import caption_chair, first_references

    scenes = {
        "split": "test",
        "image_size": 64,
        "scenes": [
            {
                "scene_id": 7,
                "image_size": 64,
                "objects": [
                    {"shape": "circle", "color": "red", "size": "big", "box": [1, 1, 20, 20]},
                    {"shape": "square", "color": "blue", "size": "small", "box": [30, 30, 40, 40]},
                ],
            }
        ],
    }
    (tmp_path / "scenes_test.json").write_text(json.dumps(scenes))
    test = tmp_path / "caption_test.tsv"
    test.write_text("7\t7\ta big red circle and a small blue square&&two shapes\t\timages/7.png\n")
    assert first_references(test) == {7: "a big red circle and a small blue square"}
    predictions = tmp_path / "predictions.json"
    predictions.write_text(
        json.dumps([{"image_id": 7, "caption": "a red circle and a green triangle"}])
    )
    scores = caption_chair(predictions, test, tmp_path / "scenes_test.json")
    # mentions: red circle (in the scene), green triangle (not): 1 of 2 hallucinated,
    # 1 of 1 captions
    assert scores["caption_expert"]["chair_i"] == 0.5 and scores["caption_expert"]["chair_s"] == 1.0
    assert scores["references"]["chair_i"] == 0.0 and scores["references"]["coverage"] == 1.0


def test_probes_stage_needs_the_multitask_experts(tmp_path):
    with pytest.raises(SystemExit, match="multitask"):
        demo_main(["--out", str(tmp_path), "--stages", "probes"])


def test_complex_probe_evaluates_the_grounding_and_vqa_experts_on_the_probe_files(world):
    from unival.demo.probes import complex_eval_envs, complex_lines

    experts = {"refcoco": world / "refcoco.pt", "vqa": world / "vqa.pt"}
    suite = world / "complex"
    envs = complex_eval_envs(world, experts, suite, world / "work")
    assert set(envs) == {"grounding", "vqa"}
    argv = _render("refcoco/eval.sh", envs["grounding"][2])
    grounding = _flags(argv)
    assert grounding["--data"] == str(suite / "probe_refcoco.tsv") and argv[2] == str(
        world / "refcoco.pt"
    )
    assert grounding["--results-path"] == str(world / "work" / "complex_grounding")
    argv = _render("vqa/eval.sh", envs["vqa"][2])
    vqa = _flags(argv)
    # the probe's answers ("big", "4", ...) are candidates only with its own answer list
    assert vqa["--ans2label-file"] == str(suite / "probe_answers.txt") and argv[2] == str(
        world / "vqa.pt"
    )
    table = complex_lines(
        {
            "vqa": {
                "model": {"all": {"accuracy": 0.25, "n": 8}, "corner": {"accuracy": 0.5, "n": 2}},
                "random_shape_colour": {"corner": {"accuracy": 0.375, "n": 2}},
            }
        }
    )
    assert table[1].split() == ["all", "0.250", "-", "8"] and table[2].split() == [
        "corner",
        "0.500",
        "0.375",
        "2",
    ]


def test_the_training_seed_reaches_fairseq(world):
    s = replace(MultitaskSettings(), train_seed=7)
    env = finetune_env(AUDIO_TASK, s, world, world / "t.tsv", None, world / "c", 0.1)
    assert _flags(_render("audio_caption/train.sh", env))["--seed"] == "7"
    default = finetune_env(
        AUDIO_TASK, MultitaskSettings(), world, world / "t.tsv", None, world / "c", 0.1
    )
    assert _flags(_render("audio_caption/train.sh", default))["--seed"] == "1"


def _earlier_run(out: Path, tasks=("caption", "vqa")) -> None:
    """The files a finished ``--stages multitask`` run leaves in ``out`` (empty checkpoints)."""
    (out / "toy_world").mkdir(parents=True)
    (out / "toy_world" / "dict.txt").write_text("a 1\n")
    base = out / "multitask" / "base" / "checkpoints"
    base.mkdir(parents=True)
    (base / "checkpoint_last.pt").write_bytes(b"")
    section = {"tasks": {name: {"score": 0.5} for name in tasks}, "base_updates": 7}
    (out / "report.json").write_text(json.dumps({"device": "gpu", "multitask": section}))


def test_media_can_follow_an_earlier_multitask_run_into_the_same_folder(tmp_path):
    from unival.demo.context import DemoContext
    from unival.demo.pipeline import earlier_multitask

    _earlier_run(tmp_path)
    ctx = DemoContext(out=tmp_path, seed=0, env={})
    section = earlier_multitask(tmp_path, ctx)
    assert section["base_updates"] == 7
    assert ctx.base == tmp_path / "multitask" / "base" / "checkpoints" / "checkpoint_last.pt"
    assert ctx.world == tmp_path / "toy_world"
    assert ctx.experts == {
        name: tmp_path / "multitask" / name / "checkpoints" / "checkpoint_last.pt"
        for name in ("caption", "vqa")
    }


def test_an_earlier_run_without_its_base_is_named_and_refused(tmp_path):
    _earlier_run(tmp_path)
    (tmp_path / "multitask" / "base" / "checkpoints" / "checkpoint_last.pt").unlink()
    with pytest.raises(SystemExit, match="base/checkpoints/checkpoint_last.pt"):
        demo_main(["--out", str(tmp_path), "--stages", "media"])
    with pytest.raises(SystemExit, match="list multitask before media"):
        demo_main(["--out", str(tmp_path), "--stages", "media,multitask"])
