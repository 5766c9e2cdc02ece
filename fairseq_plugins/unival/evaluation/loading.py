"""Loading the checkpoint(s) and the task that ``unival eval`` evaluates.

Each file is loaded with fairseq's ``load_model_ensemble_and_task``, the data options given on
the command line overriding the saved task config (``a.pt:b.pt`` is an ensemble).
``--ema-eval`` loads ``extra_state["ema"]`` in fp32 instead of ``model``.

Zero-shot evaluation (``--zero-shot``) builds the task from the command line (``--task``,
default the checkpoint's own; fields the two tasks share, such as the data, dictionary, BPE
and image size, keep the checkpoint's values unless overridden) and sets the model's
``sample_patch_num`` to 776, as the original code's zero-shot scripts do (no patch sampling).
``--noconstraints`` decodes freely: no answer trie (vqa_gen runs unconstrained beam search),
no constraint range; with ``--prompt-type none`` VQA decodes the whole generated string.
"""

import argparse
import json
import logging
from typing import Dict, Mapping

import torch

from unival.hub.checkpoint import select_state_dict
from unival.models.missing_weights import MissingWeightsError

logger = logging.getLogger("unival.evaluate")

ZERO_SHOT_SAMPLE_PATCH_NUM = 776

# command-line option -> task config field, applied as fairseq arg_overrides when given
DATA_OVERRIDES = (
    "selected_cols",
    "dict_path",
    "bpe_dir",
    "image_dir",
    "patch_image_size",
    "constraint_range",
    "ans2label_file",
    "val_inference_type",
    "acc_thresh",
    "min_area_size",
    "max_area_size",
    "medium_area",
    "num_frames",
    "patch_frame_size",
    "eval_sample_type",
    "max_audio_len",
    "audio_sample_rate",
    "sample_rate",
)


def ema_state(state: dict, path: str) -> Dict[str, torch.Tensor]:
    """``extra_state["ema"]`` of a loaded checkpoint in fp32 (what ``--ema-eval`` evaluates)."""
    return select_state_dict(state, ema=True, path=path, ema_option="--ema-eval")


def load_models_and_task(args: argparse.Namespace):
    """fairseq ``load_model_ensemble_and_task`` per file with the data options of ``args`` as
    overrides; with ``args.ema_eval`` each file's EMA weights replace its ``model``."""
    from fairseq import checkpoint_utils, utils

    overrides: Dict[str, object] = {"data": args.data}
    for name in DATA_OVERRIDES:
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    overrides.update(task_overrides(args))
    overrides.update(model_overrides(args))
    overrides.update(json.loads(args.model_overrides))
    models, saved_cfg, task = [], None, None
    paths = utils.split_paths(args.checkpoint)
    if getattr(args, "zero_shot", False):
        task = zero_shot_task(args, paths[0], overrides)
    for path in paths:
        state = checkpoint_utils.load_checkpoint_to_cpu(path, arg_overrides=overrides)
        if getattr(args, "ema_eval", False):
            state["model"] = ema_state(state, path)
        try:
            loaded, saved_cfg, task = checkpoint_utils.load_model_ensemble_and_task(
                [path], arg_overrides=overrides, task=task, state=state
            )
        except MissingWeightsError as error:  # name the file, not just "the checkpoint"
            raise MissingWeightsError(error.keys, path) from None
        models += loaded
        logger.info(
            "loaded %s (%s weights)", path, "EMA" if getattr(args, "ema_eval", False) else "model"
        )
    use_cuda = torch.cuda.is_available() and not args.cpu
    for model in models:
        model.eval()
        if args.fp16 and use_cuda:
            model.half()
        if use_cuda:
            model.cuda()
        elif hasattr(model, "pack_decoder_for_cpu_inference_"):
            model.pack_decoder_for_cpu_inference_()  # faster decoding steps, same results
    return models, saved_cfg, task, use_cuda


def task_overrides(args: argparse.Namespace) -> Dict[str, object]:
    """Task config overrides of the zero-shot options."""
    overrides: Dict[str, object] = {}
    if getattr(args, "prompt_type", None) is not None:
        overrides["prompt_type"] = args.prompt_type
    if getattr(args, "noconstraints", False):
        overrides.update(
            unconstrained_training=True, val_inference_type="beamsearch", constraint_range=None
        )
    return overrides


def model_overrides(args: argparse.Namespace) -> Dict[str, object]:
    return (
        {"sample_patch_num": ZERO_SHOT_SAMPLE_PATCH_NUM}
        if getattr(args, "zero_shot", False)
        else {}
    )


def zero_shot_task(args: argparse.Namespace, path: str, overrides: Mapping[str, object]):
    """The task named by ``--task`` (else the checkpoint's), configured from the checkpoint's
    task fields it shares, then ``overrides``."""
    import dataclasses

    from fairseq import checkpoint_utils, tasks
    from fairseq.tasks import TASK_DATACLASS_REGISTRY
    from omegaconf import OmegaConf

    state = checkpoint_utils.load_checkpoint_to_cpu(path)
    saved = OmegaConf.to_container(state["cfg"]["task"], resolve=True)
    name = args.task or saved["_name"]
    if name not in TASK_DATACLASS_REGISTRY:
        raise SystemExit(f"unival eval: unknown task {name!r}")
    fields = {f.name for f in dataclasses.fields(TASK_DATACLASS_REGISTRY[name])}
    values = {k: v for k, v in saved.items() if k in fields and k != "_name"}
    values.update({k: v for k, v in overrides.items() if k in fields})
    logger.info(
        "zero-shot: task %s built from the command line (checkpoint task %s)", name, saved["_name"]
    )
    return tasks.setup_task(OmegaConf.create({"_name": name, **values}))
