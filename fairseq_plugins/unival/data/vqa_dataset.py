"""VQA samples and the decoder-prompt machinery shared with SNLI-VE.

Fields (after ``--selected-cols 0,5,2,3,4``): ``question_id``, ``image`` (base64 or path),
``question``, ``answers`` ("conf|!+answer" joined by "&&"), ``object_labels`` (optional).

* source = [BOS] BPE(" " + pre_question(question) + "?") [EOS]  (+ " object: ..." with
  ``add_object``, before the EOS);
* the answer is the reference with the highest confidence; ``conf`` is that confidence;
* prompt types (answer tokens A, source S = [BOS] s [EOS]):

  ===========  ========================  =====================  ================
  type         prev_output_tokens        decoder_prompt         prefix_tokens
  ===========  ========================  =====================  ================
  none         [BOS] A                   [BOS]                  (empty)
  src          S A                       S                      S without BOS
  prev_output  [BOS] s A                 [BOS] s                s
  ===========  ========================  =====================  ================

  target = prev_output_tokens shifted left + [EOS], with every position before the answer
  set to ``<pad>`` (only the answer and EOS are trained);
* ``constraint_mask`` (T, V): trie children at the answer and EOS rows, when a candidate set
  is given (constrained training).

Batches carry, besides the standard collate output, ``ref_dicts`` (answer -> confidence per
row) and ``decoder_prompts`` (list of (P_i,) tensors).
"""

from __future__ import annotations

import logging
import os
from functools import partial
from typing import Dict, List, Optional, Sequence

import torch

from unival.data.base_dataset import UnivalDataset
from unival.data.collate import collate
from unival.data.media import ImageLoader
from unival.data.modality import Modality
from unival.data.text import pre_question
from unival.data.tsv import TSVFile, TSVRow
from unival.generation.trie import answer_constraint_mask
from unival.safe_load.pickle_files import load_plain_pickle
from unival.tokenizer import UnivalTokenizer

logger = logging.getLogger(__name__)

PROMPT_TYPES = ("none", "src", "prev_output")
ANSWER_SEPARATOR = "&&"
CONFIDENCE_SEPARATOR = "|!+"


def parse_answer_confidences(field: str) -> Dict[str, float]:
    """``"0.6|!+no&&1.0|!+yes"`` -> ``{"no": 0.6, "yes": 1.0}`` (a repeated answer keeps its
    last value)."""
    refs: Dict[str, float] = {}
    for item in field.strip().split(ANSWER_SEPARATOR):
        if CONFIDENCE_SEPARATOR not in item:
            raise ValueError(f"answer {item!r} is not 'confidence|!+answer'")
        conf, answer = item.split(CONFIDENCE_SEPARATOR, 1)
        refs[answer] = float(conf)
    if not refs:
        raise ValueError("no answers")
    return refs


def best_answer(refs: Dict[str, float]) -> str:
    """The answer with the highest confidence (the first one on ties)."""
    return max(refs, key=refs.get)


def load_candidate_answers(path: str | os.PathLike) -> List[str]:
    """Candidate answers from ``--ans2label-file``: a pickled dict answer -> label
    (``.pkl``/``.pickle``; the keys, in order; read as plain data only) or a text file, one
    answer a line."""
    path = os.fspath(path)
    if path.endswith((".pkl", ".pickle")):
        ans2label = load_plain_pickle(path, "an answer -> label dict")
        if not isinstance(ans2label, dict):
            raise ValueError(
                f"{path}: expected a pickled dict answer -> label, got {type(ans2label).__name__}"
            )
        answers = [str(a) for a in ans2label]
    else:
        with open(path, encoding="utf-8") as f:
            answers = [line.rstrip("\n\r") for line in f]
        answers = [a for a in answers if a.strip()]
    if not answers:
        raise ValueError(f"{path}: no candidate answers")
    logger.info("%d candidate answers from %s", len(answers), path)
    return answers


def prompted_sequences(
    source: torch.Tensor, answer: torch.Tensor, prompt_type: str, eos: int, pad: int
) -> Dict[str, torch.Tensor]:
    """prev_output_tokens, target, decoder_prompt and prefix_tokens for ``source`` ([BOS] s
    [EOS]) and answer tokens ``answer`` (no BOS/EOS); see the module docstring."""
    bos_item = source[:1]
    eos_item = torch.tensor([eos], dtype=source.dtype)
    if prompt_type == "none":
        decoder_prompt = bos_item
    elif prompt_type == "src":
        decoder_prompt = source
    elif prompt_type == "prev_output":
        decoder_prompt = source[:-1]
    else:
        raise ValueError(f"prompt type must be one of {PROMPT_TYPES}, got {prompt_type!r}")
    prev_output = torch.cat([decoder_prompt, answer])
    target = torch.cat([prev_output[1:], eos_item])
    target[: target.numel() - answer.numel() - 1] = pad
    return {
        "prev_output_tokens": prev_output,
        "target": target,
        "decoder_prompt": decoder_prompt,
        "prefix_tokens": decoder_prompt[1:],
    }


class PromptedAnswerDataset(UnivalDataset):
    """Media + text prompt -> a short answer decoded after a decoder prompt (VQA, video QA,
    SNLI-VE). The media column is read by ``media_loader`` (:mod:`unival.data.media`;
    default: images of ``patch_image_size``)."""

    def __init__(
        self,
        split: str,
        tsv: TSVFile,
        tokenizer: UnivalTokenizer,
        candidates=None,
        prompt_type: str = "prev_output",
        patch_image_size: int = 480,
        max_src_length: int = 128,
        max_tgt_length: int = 30,
        image_dir: str | os.PathLike | None = None,
        skip_bad_samples: bool = False,
        read_from_img_path: bool = False,
        media_loader=None,
        seed: int = 1,
    ):
        super().__init__(
            split,
            tsv,
            tokenizer,
            skip_bad_samples=skip_bad_samples,
            max_src_length=max_src_length,
            max_tgt_length=max_tgt_length,
        )
        if prompt_type not in PROMPT_TYPES:
            raise ValueError(f"prompt type must be one of {PROMPT_TYPES}, got {prompt_type!r}")
        self.candidates = candidates  # unival.generation.candidate_scoring.CandidateSet or None
        self.prompt_type = prompt_type
        self.patch_image_size = patch_image_size
        self.image_dir = image_dir
        self.read_from_img_path = read_from_img_path
        self.media_loader = media_loader or ImageLoader(
            patch_image_size, None if image_dir is None else str(image_dir), read_from_img_path
        )
        self.seed = seed

    def _image(self, field: str) -> torch.Tensor:
        """An image field -> (3, P, P) (datasets whose image is not their only media input)."""
        loader = ImageLoader(self.patch_image_size, self.image_dir, self.read_from_img_path)
        return loader.load(field)["patch_image"]

    def _check_candidate(self, answer: str, answer_ids: torch.Tensor) -> str:
        if self.candidates is not None and not self.candidates.trie.contains(answer_ids.tolist()):
            raise ValueError(
                f"answer {answer!r} is not among the {len(self.candidates)} candidate answers"
            )
        return answer

    def answer_sample(
        self,
        index: int,
        row: TSVRow,
        uniq_id: str,
        media,
        prompt: str,
        answer: str,
        answer_field: int,
        refs: Dict[str, float],
        extra_source: Optional[str] = None,
    ) -> dict:
        """The sample dict of one row (``answer_field``: the column blamed for a bad answer).

        ``media``: the ``patch_*`` keys from :meth:`load_media`, or an image tensor (3, P, P)."""
        if torch.is_tensor(media):
            media = {
                "patch_image": media,
                "patch_mask": torch.tensor([True]),
                "patch_type": int(Modality.IMAGE),
            }
        tok = self.tokenizer
        source_ids = [self.encode_text(prompt)]
        if extra_source:
            source_ids.append(self.encode_text(extra_source))
        source = torch.cat([torch.tensor([tok.bos])] + source_ids + [torch.tensor([tok.eos])])
        answer_ids = self.encode_text(" " + answer)
        if answer_ids.numel() == 0:
            raise row.error(answer_field, "empty answer", "answer")
        self.decode_field(
            row, answer_field, "answer", lambda _: self._check_candidate(answer, answer_ids)
        )
        sample = {
            "id": index,
            "uniq_id": uniq_id,
            "source": source,
            **media,
            "ref_dict": refs,
            **prompted_sequences(source, answer_ids, self.prompt_type, tok.eos, tok.pad),
        }
        if self.candidates is not None:
            sample["constraint_mask"] = answer_constraint_mask(
                self.candidates.trie, sample["target"].numel(), answer_ids.tolist(), len(tok)
            )
        return sample

    def collater(self, samples: List[dict]) -> dict:
        batch = collate(samples, pad_idx=self.tokenizer.pad, eos_idx=self.tokenizer.eos)
        if batch:
            kept = [s for s in samples if "skipped" not in s]
            batch["ref_dicts"] = [s["ref_dict"] for s in kept]
            batch["decoder_prompts"] = [s["decoder_prompt"] for s in kept]
        return batch


class VqaGenDataset(PromptedAnswerDataset):
    """VQA over a TSV whose selected fields are (question_id, media, question, answers[, objects]);
    video QA is this dataset with a video ``media_loader``."""

    FIELDS = ("question_id", "image", "question", "answers", "object_labels")

    def __init__(self, *args, add_object: bool = False, max_object_length: int = 30, **kwargs):
        super().__init__(*args, **kwargs)
        self.add_object = add_object
        self.max_object_length = max_object_length

    def question_prompt(self, question: str) -> str:
        question = pre_question(question, self.max_src_length)
        return " " + (question if question.endswith("?") else question + "?")

    def process_row(self, index: int, row: TSVRow) -> dict:
        question_id = self.decode_field(row, 0, self.FIELDS[0], str.strip)
        media = self.load_media(row, 1, index)
        prompt = self.decode_field(row, 2, self.FIELDS[2], self.question_prompt)
        refs = self.decode_field(row, 3, self.FIELDS[3], parse_answer_confidences)
        answer = best_answer(refs)
        objects = None
        if self.add_object and len(row) > 4:
            labels = self.decode_field(
                row, 4, self.FIELDS[4], partial(_object_labels, limit=self.max_object_length)
            )
            objects = " object: " + " ".join(labels) if labels else None
        sample = self.answer_sample(
            index, row, question_id, media, prompt, answer, 3, refs, objects
        )
        sample["conf"] = refs[answer]
        return sample


def _object_labels(field: str, limit: int) -> Sequence[str]:
    return [o for o in field.strip().split(ANSWER_SEPARATOR) if o][:limit]
