"""Recipe modes of the training scripts: the parameter-efficient "onlylinear" mode (the
authors' *_onlylinear scripts), PRECISION, and resuming a stopped run
(lib/common_flags.sh ``init_or_resume_flags``), rendered with DRY_RUN=1.

The onlylinear test builds the model from the rendered fairseq command and checks, after a
backward pass on an image batch, exactly which parameters receive gradients.
"""

from types import SimpleNamespace

import pytest
import torch
from test_run_scripts import RUN_SCRIPTS, machine, parse_command, render, rendered_argv  # noqa: F401
from test_run_scripts_global_batch import rendered_run

from unival.models.builder import placeholder_dictionary
from unival.models.unival import UnivalModel

CONNECTORS = {
    "encoder.image_proj",
    "encoder.embed_image_positions",
    "encoder.video_proj",
    "encoder.embed_video_positions",
}

# recipe -> (lr, epochs, per-GPU batch, update_freq) of the authors' onlylinear scripts, written
# out by hand, and the GPU count assumed for them (that of the benchmark's full recipe)
ONLYLINEAR = {
    "caption": (5e-4, 25, 16, 2),
    "vqa": (5e-4, 25, 16, 2),
    "video_caption": (1e-3, 25, 16, 2),
    "video_qa": (1e-4, 40, 8, 2),
    "audio_caption": (5e-4, 25, 8, 2),
}
ONLYLINEAR_GPUS = {"caption": 8, "vqa": 16, "video_caption": 8, "video_qa": 16, "audio_caption": 8}


@pytest.mark.parametrize("recipe", sorted(ONLYLINEAR))
def test_onlylinear_recipes(recipe, machine):  # noqa: F811
    env = {
        **machine,
        "ONLYLINEAR": "1",
        "DEVICE": "gpu",
        "NPROC_PER_NODE": str(ONLYLINEAR_GPUS[recipe]),
    }
    world, args, _ = rendered_run(f"{recipe}/train.sh", env)
    assert world == ONLYLINEAR_GPUS[recipe]
    assert (args.lr[0], args.max_epoch, args.batch_size, args.update_freq[0]) == ONLYLINEAR[recipe]
    assert args.freeze_encoder and args.freeze_decoder and args.freeze_image_encoder
    assert args.freeze_video_encoder and args.freeze_audio_encoder
    ckpt, out = machine["UNIVAL_CKPT"], machine["UNIVAL_OUT"]
    assert args.restore_file == f"{ckpt}/unival_s2_hs/checkpoint1.pt"
    assert args.save_dir == f"{out}/{recipe}/{recipe}_onlylinear_s2_unival_base"
    assert args.reset_optimizer and args.reset_dataloader and args.reset_meters
    if recipe == "video_qa":
        assert args.use_dataaug
    if recipe == "audio_caption":
        assert args.audio_sample_rate and args.sample_rate == 48000
    _, plain = parse_command(rendered_argv(RUN_SCRIPTS / recipe / "train.sh", machine))
    assert not (getattr(plain, "freeze_encoder", False) or getattr(plain, "freeze_decoder", False))


def test_onlylinear_from_stage_1_and_errors(machine):  # noqa: F811
    env = {**machine, "ONLYLINEAR": "1", "ONLYLINEAR_FROM": "s1"}
    _, args = parse_command(rendered_argv(RUN_SCRIPTS / "audio_caption" / "train.sh", env))
    assert (
        args.restore_file == f"{machine['UNIVAL_CKPT']}/unival_s1/checkpoint15.pt"
        and args.lr == [5e-3]
    )
    proc = render(RUN_SCRIPTS / "refcoco" / "train.sh", {**machine, "ONLYLINEAR": "1"})
    # no onlylinear recipe for grounding: the variable is not read there
    assert proc.returncode == 0
    proc = render(RUN_SCRIPTS / "caption" / "train.sh", {**env, "ONLYLINEAR_FROM": "s3"})
    assert proc.returncode == 2 and "ONLYLINEAR_FROM must be s1 or s2" in proc.stderr


def test_onlylinear_trains_only_the_connectors(machine):  # noqa: F811
    env = {
        **machine,
        "ONLYLINEAR": "1",
        "ARCH": "unival_tiny",
        "IMAGE_ENCODER": "",
        "RESNET_TYPE": "",
    }
    _, args = parse_command(rendered_argv(RUN_SCRIPTS / "caption" / "train.sh", env))
    dictionary = placeholder_dictionary(40)
    model = UnivalModel.build_model(
        args, SimpleNamespace(source_dictionary=dictionary, target_dictionary=dictionary)
    )
    trainable = {n.rsplit(".", 1)[0] for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == CONNECTORS
    torch.manual_seed(0)
    model.train()
    logits, _ = model(
        src_tokens=torch.tensor([[0, 5, 6, 2], [0, 7, 2, 1]]),
        src_lengths=torch.tensor([4, 3]),
        prev_output_tokens=torch.tensor([[0, 8, 9], [0, 10, 1]]),
        patch_images=torch.randn(2, 3, 64, 64),
        patch_masks=torch.tensor([True, True]),
        patch_types=torch.tensor([0, 0]),
    )
    torch.nn.functional.cross_entropy(
        logits.flatten(0, 1), torch.tensor([8, 9, 2, 10, 2, 1])
    ).backward()
    with_grad = {
        n for n, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0
    }
    assert {n.rsplit(".", 1)[0] for n in with_grad} == {
        "encoder.image_proj",
        "encoder.embed_image_positions",
    }
    frozen_with_grad = [
        n for n, p in model.named_parameters() if not p.requires_grad and p.grad is not None
    ]
    assert not frozen_with_grad


@pytest.mark.parametrize(
    "script", ["caption/train.sh", "refcoco/train.sh", "pretraining/stage1.sh"]
)
def test_a_run_with_checkpoint_last_resumes_without_resets(script, machine, tmp_path):  # noqa: F811
    save_dir = tmp_path / "run"
    env = {**machine, "SAVE_DIR": str(save_dir)}
    _, fresh = parse_command(rendered_argv(RUN_SCRIPTS / script, env))
    assert fresh.reset_optimizer and fresh.reset_dataloader and fresh.reset_meters
    assert fresh.restore_file.startswith(machine["UNIVAL_CKPT"])
    save_dir.mkdir()
    (save_dir / "checkpoint_last.pt").write_bytes(b"")
    proc = render(RUN_SCRIPTS / script, env)
    assert proc.returncode == 0 and f"resuming from {save_dir}/checkpoint_last.pt" in proc.stderr
    _, resumed = parse_command(rendered_argv(RUN_SCRIPTS / script, env))
    assert not (resumed.reset_optimizer or resumed.reset_dataloader or resumed.reset_meters)
    assert resumed.restore_file == "checkpoint_last.pt"  # fairseq: SAVE_DIR/checkpoint_last.pt
    _, afresh = parse_command(rendered_argv(RUN_SCRIPTS / script, {**env, "RESUME": "0"}))
    assert afresh.reset_optimizer and afresh.restore_file == fresh.restore_file


@pytest.mark.parametrize(
    "values,expected",
    [
        ({"DEVICE": "gpu"}, (True, False, False)),
        ({"DEVICE": "gpu", "PRECISION": "bf16"}, (False, True, False)),
        ({"DEVICE": "gpu", "PRECISION": "fp32"}, (False, False, False)),
        ({"DEVICE": "cpu"}, (False, False, True)),
        ({"DEVICE": "cpu", "PRECISION": "bf16"}, (False, True, True)),
    ],
)
def test_precision_knob(values, expected, machine):  # noqa: F811
    """PRECISION picks fairseq's fp16 (loss-scaled), bf16 or fp32 path: (fp16, bf16, cpu)."""
    _, args = parse_command(
        rendered_argv(RUN_SCRIPTS / "caption" / "train.sh", {**machine, **values})
    )
    assert (args.fp16, args.bf16, args.cpu) == expected
    _, args = parse_command(
        rendered_argv(RUN_SCRIPTS / "pretraining" / "stage1.sh", {**machine, **values})
    )
    assert (args.fp16, args.bf16, args.cpu) == expected
    if args.fp16:
        assert args.fp16_scale_window == 128  # the pretraining recipes' value


@pytest.mark.parametrize("script", ["caption/train.sh", "video_qa/train.sh"])
def test_batches_are_not_filled_by_a_background_thread(script, machine):  # noqa: F811
    """fairseq's buffer thread aborts the process when training stops mid-epoch while it is
    inside a torch call (exit 134 after the checkpoint is saved): off unless asked for."""
    _, args = parse_command(rendered_argv(RUN_SCRIPTS / script, machine))
    assert args.data_buffer_size == 0
    _, args = parse_command(
        rendered_argv(RUN_SCRIPTS / script, {**machine, "DATA_BUFFER_SIZE": "4"})
    )
    assert args.data_buffer_size == 4
