"""The demo's device profiles: every command of the GPU profile, rendered with DRY_RUN=1.

No GPU is needed: the run scripts print the fairseq-train / unival eval commands they would
run, and these tests read the device, precision, batch and schedule flags off them.
"""

import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from unival.demo.multitask import MultitaskSettings
from unival.demo.profiles import CHECKPOINT, GPU, render_commands, resolve_device, settings_for
from unival.demo.tasks import AUDIO_TASK

LABELS = [
    "base",
    "caption",
    "vqa",
    "refcoco",
    "snli_ve",
    "video_caption",
    "video_qa",
    "audio_caption",
    "audio_caption_scratch",
]


def _flags(command: str) -> dict:
    """``--name=value`` / ``--name`` flags of a rendered command -> {name: value or True}."""
    flags = {}
    for word in shlex.split(command):
        if word.startswith("--"):
            name, _, value = word[2:].partition("=")
            flags[name] = value or True
    return flags


@pytest.fixture(scope="module")
def gpu_commands(tmp_path_factory):
    return dict(render_commands(GPU, tmp_path_factory.mktemp("gpu")))


def test_the_gpu_profile_renders_every_training_and_evaluation(gpu_commands):
    expected = ["base"] + [label for name in LABELS[1:] for label in (name, f"{name} eval")]
    assert sorted(gpu_commands) == sorted(expected)


def test_gpu_trainings_run_on_the_gpu_in_bf16_with_the_profile_batches(gpu_commands):
    for label in LABELS:
        flags = _flags(gpu_commands[label])
        assert gpu_commands[label].startswith("fairseq-train"), label
        assert "cpu" not in flags, label
        assert flags.get("bf16") is True, label
        budget = GPU.pretrain if label == "base" else GPU.experts[label.replace("_scratch", "")]
        assert int(flags["max-update"]) == budget.updates, label
        batch = GPU.pretrain_batch_size if label == "base" else GPU.batch_size
        if label.startswith("audio"):  # the audio task keeps its own batch (longer inputs)
            batch = int(AUDIO_TASK.env["BATCH_SIZE"])
        assert int(flags["batch-size"]) == batch, label


def test_gpu_video_experts_get_their_own_loader_workers(gpu_commands):
    assert GPU.video_num_workers != GPU.num_workers
    for label in ("video_caption", "video_qa"):
        assert int(_flags(gpu_commands[label])["num-workers"]) == GPU.video_num_workers, label
    for label in ("base", "caption", "refcoco", "audio_caption"):
        assert int(_flags(gpu_commands[label])["num-workers"]) == GPU.num_workers, label


def test_cpu_profile_loads_images_in_process_and_videos_in_a_worker(tmp_path):
    """On the CPU a loader worker shares the training's cores: image and audio batches load
    in the training process, video clips (several times an image's decoding) in a worker."""
    commands = dict(render_commands(MultitaskSettings(), tmp_path))
    for label in ("base", "caption", "vqa", "refcoco", "snli_ve", "audio_caption"):
        assert _flags(commands[label])["num-workers"] == "0", label
    for label in ("video_caption", "video_qa"):
        assert _flags(commands[label])["num-workers"] == "1", label


def test_gpu_evaluations_do_not_ask_for_the_cpu(gpu_commands):
    for label in LABELS[1:]:
        flags = _flags(gpu_commands[f"{label} eval"])
        assert "cpu" not in flags, label
        assert int(flags["batch-size"]) == GPU.eval_batch_size, label


def test_the_cpu_recipe_still_trains_on_the_cpu_in_fp32(tmp_path):
    commands = dict(render_commands(MultitaskSettings(), tmp_path))
    for label in ("base", "refcoco", "audio_caption_scratch"):
        flags = _flags(commands[label])
        assert flags.get("cpu") is True, label
        assert "bf16" not in flags and "fp16" not in flags, label
    assert _flags(commands["refcoco eval"]).get("cpu") is True


def test_the_cpu_base_and_every_training_from_it_locate_and_the_gpu_profile_does_not(
    tmp_path, gpu_commands
):
    """One architecture from the base to its experts: a fine-tuning without the encoder
    positions would drop what the base learned to read. The CPU recipe starts the bins, not
    the patch positions, as sinusoids; each switch maps to its own flag."""
    used = ("entangle-position-embedding", "sinusoidal-bin-init")
    unused = "sinusoidal-patch-position-init"
    commands = dict(render_commands(MultitaskSettings(), tmp_path))
    for label in LABELS:
        cpu, gpu = _flags(commands[label]), _flags(gpu_commands[label])
        assert all(cpu.get(flag) is True for flag in used) and unused not in cpu, label
        assert not any(flag in gpu for flag in (*used, unused)), label
    plain = MultitaskSettings(absolute_positions=False, sinusoidal_bins=False)
    for label, command in render_commands(plain, tmp_path / "plain"):
        assert not any(flag in _flags(command) for flag in (*used, unused)), label
    patches = MultitaskSettings(absolute_positions=False, sinusoidal_patch_positions=True)
    flags = _flags(dict(render_commands(patches, tmp_path / "patches"))["base"])
    assert flags.get(unused) is True and "entangle-position-embedding" not in flags


def test_device_names():
    assert resolve_device("cuda") == "gpu"
    assert resolve_device("cpu") == "cpu"
    with pytest.raises(SystemExit, match="--device must be one of"):
        resolve_device("tpu")
    assert settings_for("gpu") == GPU and settings_for("gpu") is not GPU  # stages may scale it
    smoke = settings_for("gpu", smoke=True)
    assert (smoke.device, smoke.precision, smoke.pretrain.updates) == ("gpu", "bf16", 3)


def test_the_demo_command_prints_the_gpu_commands_without_running_them(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "unival.demo",
            "--device",
            "gpu",
            "--dry-run",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count("\nfairseq-train ") + proc.stdout.startswith("fairseq-train") == 9
    assert "# refcoco eval\nunival eval " in proc.stdout
    assert not any(Path(tmp_path).iterdir())  # nothing written, nothing trained


def test_video_qa_continues_from_the_video_caption_expert_unless_told_otherwise(tmp_path):
    from dataclasses import replace

    commands = dict(render_commands(MultitaskSettings(), tmp_path))
    caption_expert = tmp_path / "media" / "video_caption" / "checkpoints" / "checkpoint_last.pt"
    base = tmp_path / "multitask" / "base" / "checkpoints" / "checkpoint_last.pt"
    assert _flags(commands["video_qa"])["restore-file"] == str(caption_expert)
    assert _flags(commands["video_caption"])["restore-file"] == str(base)
    from_base = dict(render_commands(replace(MultitaskSettings(), video_qa_from="base"), tmp_path))
    assert _flags(from_base["video_qa"])["restore-file"] == str(base)
    with pytest.raises(SystemExit, match="video_qa_from must be one of"):
        render_commands(replace(MultitaskSettings(), video_qa_from="audio"), tmp_path)


def test_base_updates_sets_the_base_schedule_only(tmp_path, capsys):
    from unival.commands.demo import main as demo_main

    argv = ["--device", "cpu", "--dry-run", "--out", str(tmp_path)]
    assert demo_main(argv + ["--base-updates", "2600"]) == 0
    chosen = capsys.readouterr().out.split("\n# ")
    assert demo_main(argv) == 0
    plain = capsys.readouterr().out.split("\n# ")
    assert len(chosen) == len(plain) == 17  # the base, 8 experts and their evaluations
    assert chosen[0].startswith("# base") and _flags(chosen[0])["max-update"] == "2600"
    assert _flags(plain[0])["max-update"] == str(MultitaskSettings().pretrain.updates)
    assert _flags(chosen[0])["stop-time-hours"] == _flags(plain[0])["stop-time-hours"]
    assert chosen[1:] == plain[1:]
    with pytest.raises(SystemExit, match="must be >= 1"):
        demo_main(argv + ["--base-updates", "0"])


def test_time_scale_shortens_every_schedule_and_cap_of_the_profile(tmp_path, capsys):
    from unival.commands.demo import main as demo_main

    argv = ["--device", "gpu", "--dry-run", "--out", str(tmp_path)]
    assert demo_main(argv + ["--time-scale", "0.25"]) == 0
    short = dict(c.split("\n", 1) for c in capsys.readouterr().out.lstrip("# ").split("\n# "))
    trainings = {"base": GPU.pretrain, **{t: GPU.experts[t] for t in GPU.experts}}
    trainings["audio_caption_scratch"] = GPU.experts["audio_caption"]
    for label, budget in trainings.items():
        flags = _flags(short[label])
        assert flags["max-update"] == str(round(budget.updates * 0.25)), label
        hours = float(flags["stop-time-hours"])
        assert hours == pytest.approx(budget.minutes * 0.25 / 60, abs=1e-5), label
    assert settings_for("gpu").pretrain == GPU.pretrain  # the profile itself is untouched
    assert settings_for("cpu", time_scale=0.001).experts["caption"].updates == 1
    with pytest.raises(SystemExit, match="--time-scale must be in"):
        demo_main(argv + ["--time-scale", "0"])


def test_vqa_continues_the_caption_expert_and_snli_ve_the_vqa_expert_unless_told_otherwise(
    tmp_path, gpu_commands
):
    from dataclasses import replace

    from unival.demo.recipes import image_expert_init

    commands = dict(render_commands(MultitaskSettings(), tmp_path))
    multitask = tmp_path / "multitask"
    base = multitask / "base" / "checkpoints" / "checkpoint_last.pt"
    expert = {
        name: str(multitask / name / "checkpoints" / "checkpoint_last.pt")
        for name in ("caption", "vqa")
    }
    assert _flags(commands["vqa"])["restore-file"] == expert["caption"]
    assert _flags(commands["snli_ve"])["restore-file"] == expert["vqa"]
    for other in ("caption", "refcoco"):
        assert _flags(commands[other])["restore-file"] == str(base), other
    from_base = replace(MultitaskSettings(), vqa_from="base", snli_ve_from="base")
    from_base = dict(render_commands(from_base, tmp_path))
    assert _flags(from_base["vqa"])["restore-file"] == str(base)
    assert _flags(from_base["snli_ve"])["restore-file"] == str(base)
    assert _flags(gpu_commands["snli_ve"])["restore-file"].endswith(
        "base/checkpoints/" + CHECKPOINT
    )
    with pytest.raises(SystemExit, match="vqa_from must be one of"):
        render_commands(replace(MultitaskSettings(), vqa_from="snli_ve"), tmp_path)
    with pytest.raises(SystemExit, match="snli_ve_from must be one of"):
        render_commands(replace(MultitaskSettings(), snli_ve_from="refcoco"), tmp_path)
    with pytest.raises(SystemExit, match="train it first"):
        image_expert_init("vqa", MultitaskSettings(), base, trained={})
    with pytest.raises(SystemExit, match="train it first"):
        image_expert_init("snli_ve", MultitaskSettings(), base, trained={"caption": base})
