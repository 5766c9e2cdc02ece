"""The video/audio run scripts render the released recipes, values written by hand.

Rendering and parsing use the helpers of ``test_run_scripts`` (which also checks syntax,
parsing and the duplicate-flag guard of every script).
"""

import json

from test_run_scripts import RUN_SCRIPTS, machine, parse_command, rendered_argv  # noqa: F401


def _train(name, env):
    kind, args = parse_command(rendered_argv(RUN_SCRIPTS / name / "train.sh", env))
    assert kind == "train"
    return args


def test_video_caption_train_is_the_msrvtt_recipe(machine):  # noqa: F811
    args = _train("video_caption", machine)
    assert (args.task, args.arch, args.video_encoder_name) == (
        "video_caption",
        "unival_base",
        "all_resnext101",
    )
    assert args.lr == [1e-5] and args.max_epoch == 20 and args.warmup_ratio == 0.06
    assert (args.batch_size, args.update_freq) == (
        16,
        [16],
    )  # one process: the authors' 8 GPUs x 16 x 2
    assert (args.num_frames, args.patch_frame_size, args.sample_type, args.use_dataaug) == (
        16,
        384,
        "rand",
        True,
    )
    assert args.criterion == "adjust_label_smoothed_encouraging_loss"
    assert (args.drop_best_ratio, args.drop_best_after, args.log_end) == (0.05, 6000, 0.75)
    # the authors' validation generation (beam 5, unnormalized, up to 200 tokens), not 22 tokens
    assert json.loads(args.eval_args) == {
        "beam": 5,
        "unnormalized": True,
        "temperature": 1.0,
        "stop_on_max_len": True,
    }
    assert (
        args.selected_cols == "0,4,2" and args.eval_cider and args.best_checkpoint_metric == "cider"
    )
    assert (args.label_smoothing, args.drop_worst_ratio, args.drop_worst_after) == (0.1, 0.05, 6000)
    assert args.freeze_encoder_embedding and args.freeze_decoder_embedding
    data = machine["UNIVAL_DATA"]
    video = f"{data}/video_caption"
    assert args.data == f"{video}/msrvtt_caption_train.tsv,{video}/msrvtt_caption_test.tsv"
    assert args.image_dir == f"{data}/video_caption"


def test_video_qa_train_is_the_msrvtt_qa_recipe(machine):  # noqa: F811
    args = _train("video_qa", machine)
    assert (args.task, args.video_encoder_name) == ("video_vqa_gen", "all_resnext101")
    assert args.lr == [1e-4] and args.max_epoch == 35 and args.warmup_ratio == 0.04
    assert (args.batch_size, args.update_freq) == (
        8,
        [32],
    )  # one process: the authors' 16 GPUs x 8 x 2
    assert (args.num_frames, args.patch_frame_size, args.use_dataaug) == (8, 384, False)
    assert (
        args.criterion == "adjust_label_smoothed_encouraging_loss" and args.label_smoothing == 0.1
    )
    assert (
        args.drop_worst_ratio,
        args.drop_worst_after,
        args.drop_best_ratio,
        args.drop_best_after,
    ) == (0.05, 6000, 0.05, 6000)
    assert args.val_inference_type == "beamsearch" and args.prompt_type == "prev_output"
    assert json.loads(args.eval_args) == {
        "beam": 5,
        "unnormalized": True,
        "temperature": 1.0,
        "stop_on_max_len": True,
    }
    assert args.store_ema and args.uses_ema and args.ema_fp32 and args.ema_decay == 0.9999
    assert args.ans2label_file == f"{machine['UNIVAL_DATA']}/video_qa/msrvtt_qa_ans2label.pkl"
    assert args.best_checkpoint_metric == "vqa_score"


def test_audio_caption_train_is_the_audiocaps_recipe(machine):  # noqa: F811
    args = _train("audio_caption", machine)
    assert (args.task, args.audio_encoder_name, args.mel_bins, args.hop_size) == (
        "audio_caption",
        "pann_cnn14",
        64,
        200,
    )
    assert args.lr == [1e-4] and args.max_epoch == 25 and args.warmup_ratio == 0.06
    assert (args.batch_size, args.update_freq) == (
        8,
        [16],
    )  # one process: the authors' 8 GPUs x 8 x 2
    assert args.criterion == "adjust_label_smoothed_encouraging_loss" and args.log_end == 0.75
    assert json.loads(args.eval_args) == {
        "beam": 5,
        "unnormalized": True,
        "temperature": 1.0,
        "stop_on_max_len": True,
    }
    assert args.audio_model_path == machine["AUDIO_MODEL_PATH"]  # CNN14 starts from AudioSet
    assert args.max_audio_len == 480000 and args.audio_sample_rate is False  # the file's own rate
    args = _train("audio_caption", {**machine, "AUDIO_SAMPLE_RATE": "16000", "LR": "5e-5"})
    assert args.audio_sample_rate is True and args.sample_rate == 16000 and args.lr == [5e-5]
    assert not getattr(
        args, "no_audio_spec_augment", False
    )  # SpecAugment on by default (research code)
    assert _train("audio_caption", {**machine, "SPEC_AUGMENT": "0"}).no_audio_spec_augment is True


def test_eval_scripts_point_at_the_trained_checkpoints(machine):  # noqa: F811
    out, data = machine["UNIVAL_OUT"], machine["UNIVAL_DATA"]
    for name, test_file in (
        ("video_caption", "msrvtt_caption_test"),
        ("audio_caption", "audiocaps_test"),
        ("video_qa", "msrvtt_qa_test"),
    ):
        kind, args = parse_command(rendered_argv(RUN_SCRIPTS / name / "eval.sh", machine))
        assert kind == "eval"
        assert args.checkpoint == f"{out}/{name}/{name}_unival_base/checkpoint_best.pt"
        assert args.data == f"{data}/{name}/{test_file}.tsv"
        assert args.beam == 5 and args.unnormalized and args.cpu
    _, args = parse_command(
        rendered_argv(RUN_SCRIPTS / "video_qa" / "eval.sh", {**machine, "INFERENCE": "allcand"})
    )
    assert args.val_inference_type == "allcand" and args.selected_cols == "0,5,2,3,4"
