"""Random-weight ``unival_tiny`` checkpoints in the released file layout (tests, benchmarks).

:func:`write_toy_checkpoint` writes ``dict.txt`` (toy vocabulary), optionally an answer list,
and a ``.pt`` laid out as fairseq's trainer saves it (the released files' layout):

* ``layout="released"``: ``args`` None; ``cfg.model`` an ``argparse.Namespace`` with every
  model argument, ``_name``/``arch`` = "unival_base" (the authors' rename) plus reference-only
  arguments this toolkit ignores; ``cfg.task`` names the author's machine paths (which do not
  exist here) and reference-only options;
* ``layout="fairseq"``: what ``fairseq-train`` writes here (``cfg.model`` a dict with
  ``_name`` = "unival_tiny", ``cfg.task`` with real ``dict_path``), loadable by ``unival eval``.

Both carry ``extra_state["ema"]``: the weights plus 0.01, so tests can tell which set loaded.
The image, video (``unival_tiny`` has a ResNeXt-50 video encoder) and audio tasks are
covered; an audio model needs ``model_overrides={"audio_encoder_name": "pann_cnn6", ...}``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Dict, Optional, Sequence

import torch

from unival.data.caption_dataset import CAPTION_PROMPT, VIDEO_CAPTION_PROMPT
from unival.hub.export import model_section
from unival.models import build_model
from unival.tokenizer import UnivalTokenizer, build_dictionary_from_texts, load_gpt2_bpe

TOY_ANSWERS = ("yes", "no", "maybe", "red", "blue", "green", "circle", "square", "two", "three")
TOY_WORDS = (
    "a red circle above a blue square",
    "the green triangle left of two small squares",
    "how many circles are there",
    "what colour is the big shape",
    "is there a square",
)
#: arguments the reference model parser has and this toolkit does not use
REFERENCE_ONLY_MODEL_ARGS = {
    "bitfit": False,
    "adapter": False,
    "encoder_prompt": False,
    "decoder_prompt": False,
    "checkpoint_activations": False,
    "offload_activations": False,
}
TASK_SETTINGS = {
    "caption": {"selected_cols": "0,4,2", "max_tgt_length": 20, "eval_cider": True},
    "vqa_gen": {
        "selected_cols": "0,5,2,3,4",
        "val_inference_type": "beamsearch",
        "prompt_type": "prev_output",
    },
    "refcoco": {"selected_cols": "0,4,2,3", "max_image_size": 512},
    "snli_ve": {"selected_cols": "0,2,3,4,5", "ans2label_dict": '{"no": 0, "yes": 1, "maybe": 2}'},
    # small media settings so that CPU tests stay fast
    "video_caption": {
        "selected_cols": "0,4,2",
        "num_frames": 4,
        "patch_frame_size": 32,
        "eval_sample_type": "middle",
    },
    "video_vqa_gen": {
        "selected_cols": "0,5,2,3,4",
        "val_inference_type": "beamsearch",
        "prompt_type": "prev_output",
        "num_frames": 4,
        "patch_frame_size": 32,
        "eval_sample_type": "middle",
    },
    "audio_caption": {
        "selected_cols": "0,4,2",
        "audio_sample_rate": True,
        "sample_rate": 16000,
        "max_audio_len": 8000,
    },
}
#: tasks whose checkpoint names a candidate answer file
ANSWER_TASKS = ("vqa_gen", "video_vqa_gen")


def toy_texts(answers: Sequence[str] = TOY_ANSWERS) -> list:
    """Every text the toy tasks encode for the toy inputs (dictionary coverage)."""
    texts = [
        CAPTION_PROMPT,
        VIDEO_CAPTION_PROMPT,
        ' which region does the text " " describe?',
        ' does the image describe " "?',
    ]
    texts += (
        [" " + w for w in TOY_WORDS] + [" " + a for a in answers] + [w + "?" for w in TOY_WORDS]
    )
    return texts


def write_toy_checkpoint(
    out_dir: str | os.PathLike,
    task: str = "caption",
    layout: str = "released",
    seed: int = 0,
    patch_image_size: int = 64,
    answers: Sequence[str] = TOY_ANSWERS,
    name: Optional[str] = None,
    model_overrides: Optional[Dict[str, object]] = None,
) -> Path:
    """Write ``dict.txt`` (+ ``answers.txt`` for the QA tasks) and the checkpoint; returns its path.

    ``model_overrides``: ``UnivalConfig`` fields over ``unival_tiny`` (e.g. an audio encoder).
    """

    if layout not in ("released", "fairseq"):
        raise ValueError(f"layout must be 'released' or 'fairseq', got {layout!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    dict_path = out_dir / "dict.txt"
    build_dictionary_from_texts(toy_texts(answers), load_gpt2_bpe(), save_path=dict_path)
    tokenizer = UnivalTokenizer.from_files(dict_path)
    torch.manual_seed(seed)
    model = build_model(
        "unival_tiny",
        len(tokenizer),
        dictionary=tokenizer.dictionary,
        **dict(model_overrides or {}),
    ).eval()
    weights = model.state_dict()
    model_args = model_section(model.cfg)
    task_cfg: Dict[str, object] = {
        "_name": task,
        "patch_image_size": patch_image_size,
        **TASK_SETTINGS.get(task, {}),
    }
    if task in ANSWER_TASKS:
        answers_path = out_dir / "answers.txt"
        answers_path.write_text("".join(a + "\n" for a in answers))
        task_cfg["ans2label_file"] = str(answers_path)
    if layout == "released":
        model_args.update(REFERENCE_ONLY_MODEL_ARGS, _name="unival_base", arch="unival_base")
        model_cfg = argparse.Namespace(**model_args)
        task_cfg.update(
            data="/nonexistent/cluster/data/train.tsv,/nonexistent/cluster/data/valid.tsv",
            bpe_dir="/nonexistent/cluster/utils/BPE",
            eval_cider_cached_tokens="/nonexistent/cluster/coco-valid-words.p",
        )
    else:
        model_cfg = dict(model_args, _name="unival_tiny")
        task_cfg.update(data=str(out_dir / "data.tsv"), dict_path=str(dict_path))
    ema = {k: v + 0.01 if v.is_floating_point() else v.clone() for k, v in weights.items()}
    state = {
        "args": None,
        "cfg": {
            "common": {"seed": seed, "fp16": False},
            "model": model_cfg,
            "task": task_cfg,
            "criterion": {"_name": "adjust_label_smoothed_cross_entropy"},
            "optimizer": {"_name": "adam"},
            "lr_scheduler": {"_name": "polynomial_decay"},
            "ema": {"store_ema": True},
        },
        "model": weights,
        "criterion": None,
        "optimizer_history": [
            {
                "criterion_name": "AdjustLabelSmoothedCrossEntropyCriterion",
                "optimizer_name": "FairseqAdam",
                "lr_scheduler_state": {"best": None},
                "num_updates": 0,
            }
        ],
        "task_state": {},
        "extra_state": {
            "metrics": {},
            "previous_training_time": 0.0,
            "val_loss": None,
            "train_iterator": {"epoch": 1, "iterations_in_epoch": 0, "shuffle": False},
            "ema": ema,
        },
    }
    path = out_dir / (name or f"{task}_{layout}.pt")
    torch.save(state, path)
    return path
