"""The pretraining objectives of ``unify_task``: text sides of the examples.

:class:`PretrainExamples` turns normalised row fields into example dicts with ``source`` (L,),
``target`` (T,), ``prev_output_tokens`` (T,) (and ``conf`` for QA); media are added by the
dataset. The objectives UnIVAL's released recipe uses:

* caption: " what does the {image|video} describe?" -> " " + caption (cc12m: first two target
  tokens are <pad>, i.e. not trained);
* caption ITM: ' does the {image|video} describe " {caption'} "?' -> " yes" / " no";
* QA: " " + question -> " " + best answer, weighted by its confidence;
* QA ITM: ' what is the answer to question " {q} ". is " {a'} "?' -> " yes" / " no";
* grounding: ' which region does the text " {caption} " describe?' -> four <bin_k>;
* grounded captioning: [BOS] '  what does the region describe? region:' <bins> [EOS] -> caption.

OFA's text span masking, image infilling and detection are not used by UnIVAL's pretraining scripts.
:class:`NegativeSamples` draws the ITM negatives from the ``--neg-sample-dir`` files.
"""

from __future__ import annotations

import json
import logging
import os
import random
from typing import Dict, List, Optional, Sequence, Tuple

import torch

from unival.data.text import pre_caption, pre_question
from unival.tokenizer import UnivalTokenizer

logger = logging.getLogger(__name__)

CAPTION_PROMPTS = {
    "image": " what does the image describe?",
    "video": " what does the video describe?",
}
ITM_PROMPTS = {
    "image": ' does the image describe " {} "?',
    "video": ' does the video describe " {} "?',
}
QA_ITM_PROMPT = ' what is the answer to question " {} ". is " {} "?'
GROUNDING_PROMPT = ' which region does the text " {} " describe?'
GROUNDED_CAPTION_PROMPT = "  what does the region describe? region:"
ANSWER_SEPARATOR, CONF_SEPARATOR, OBJECT_SEPARATOR = "&&", "|!+", "&&"
YES, NO = " yes", " no"


def parse_answers(refs: str) -> Dict[str, float]:
    """``"0.6|!+no&&1.0|!+yes"`` -> {"no": 0.6, "yes": 1.0}; ValueError when malformed or empty."""
    answers: Dict[str, float] = {}
    for item in refs.split(ANSWER_SEPARATOR):
        if not item.strip():
            continue
        if CONF_SEPARATOR not in item:
            raise ValueError(f"answer {item!r} is not 'conf|!+answer'")
        conf, answer = item.split(CONF_SEPARATOR, 1)
        answers[answer.strip()] = float(conf)
    if not answers:
        raise ValueError("no answer")
    return answers


def best_answer(refs: str) -> Tuple[str, float]:
    """The answer with the highest confidence (first on ties) and that confidence."""
    answers = parse_answers(refs)
    answer = max(answers, key=answers.get)
    return answer, answers[answer]


def split_objects(field: str) -> List[str]:
    return [o.strip() for o in field.split(OBJECT_SEPARATOR) if o.strip()]


class NegativeSamples:
    """ITM negatives: captions (``all_captions.txt``), objects (``object.txt``), answers by type
    (``type2ans.json``, with an ``"other"`` list). Every draw avoids the true value."""

    MAX_TRIES = 10

    def __init__(
        self, captions: Sequence[str], objects: Sequence[str], type2ans: Dict[str, List[str]]
    ):
        self.captions = [c for c in captions if c.strip()]
        self.objects = [o for o in objects if o.strip()]
        self.type2ans = {t: list(a) for t, a in type2ans.items()}
        self.ans2type = {a: t for t, answers in self.type2ans.items() for a in answers}
        if not self.captions:
            raise ValueError("negative samples need at least one caption")

    @classmethod
    def from_dir(cls, directory: str | os.PathLike) -> "NegativeSamples":
        def lines(name):
            with open(os.path.join(directory, name), encoding="utf-8") as f:
                return [line.rstrip("\n") for line in f]

        with open(os.path.join(directory, "type2ans.json"), encoding="utf-8") as f:
            type2ans = json.load(f)
        samples = cls(lines("all_captions.txt"), lines("object.txt"), type2ans)
        logger.info(
            "negative samples from %s: %d captions, %d objects, %d answer types",
            directory,
            len(samples.captions),
            len(samples.objects),
            len(samples.type2ans),
        )
        return samples

    def _draw(self, rng: random.Random, pool: Sequence[str], avoid: str) -> Optional[str]:
        candidates = [p for p in pool if p != avoid] if len(pool) <= 64 else None
        if candidates is not None:
            return rng.choice(candidates) if candidates else None
        for _ in range(self.MAX_TRIES):
            choice = rng.choice(pool)
            if choice != avoid:
                return choice
        return None

    def negative_caption(
        self,
        rng: random.Random,
        caption: str,
        gt_objects: Sequence[str],
        object_swap_prob: float = 0.4,
    ) -> str:
        """With ``object_swap_prob`` (when ``gt_objects``): the caption with one object replaced by
        another; otherwise (or when the swap changes nothing) a random other caption."""
        if gt_objects and self.objects and rng.random() < object_swap_prob:
            target = rng.choice(list(gt_objects))
            replacement = self._draw(rng, self.objects, target)
            if replacement is not None and target in caption:
                swapped = caption.replace(target, replacement)
                if swapped != caption:
                    return swapped
        negative = self._draw(rng, self.captions, caption)
        return negative if negative is not None else self.captions[0]

    def negative_answer(self, rng: random.Random, answer: str, conf: float) -> Optional[str]:
        """As the original code draws it: u ~ U(0,1); if conf > u + 0.1 and the answer's type is
        known, a same-type answer ("how many" numbers: answer +- 1 when u > 0.5); otherwise an
        "other" answer."""
        u = rng.random()
        answer_type = self.ans2type.get(answer)
        if conf > u + 0.1 and answer_type is not None:
            if answer_type == "how many" and answer.isdigit() and u > 0.5:
                value = int(answer) + (1 if rng.random() < 0.5 or int(answer) == 0 else -1)
                return str(value)
            negative = self._draw(rng, self.type2ans[answer_type], answer)
            if negative is not None:
                return negative
        return (
            self._draw(rng, self.type2ans.get("other", []), answer)
            if self.type2ans.get("other")
            else None
        )


class PretrainExamples:
    """Example builders over one tokenizer (lengths in words, as the reference truncates)."""

    def __init__(
        self,
        tokenizer: UnivalTokenizer,
        max_src_length: int = 80,
        max_tgt_length: int = 30,
        max_image_size: int = 512,
    ):
        self.tokenizer = tokenizer
        self.max_src_length = max_src_length
        self.max_tgt_length = max_tgt_length
        self.max_image_size = max_image_size

    def _example(self, prompt_ids: torch.Tensor, answer: str) -> dict:
        tok = self.tokenizer
        bos, eos = torch.tensor([tok.bos]), torch.tensor([tok.eos])
        answer_ids = tok.encode(answer)
        return {
            "source": torch.cat([bos, prompt_ids, eos]),
            "target": torch.cat([answer_ids, eos]),
            "prev_output_tokens": torch.cat([bos, answer_ids]),
        }

    def _text(self, prompt: str, answer: str) -> dict:
        return self._example(self.tokenizer.encode(prompt), answer)

    def caption(self, caption: str, media: str = "image", dataset_name: str = "") -> dict:
        target = pre_caption(caption, self.max_tgt_length)
        if not target:
            raise ValueError("empty caption")
        example = self._text(CAPTION_PROMPTS[media], " " + target)
        if (
            dataset_name == "cc12m"
        ):  # the reference does not train the first two tokens of CC12M captions
            example["target"][:2] = self.tokenizer.pad
        return example

    def caption_itm(
        self,
        caption: str,
        gt_objects: Sequence[str],
        negatives: NegativeSamples,
        rng: random.Random,
        media: str = "image",
    ) -> dict:
        text = pre_caption(caption, self.max_src_length)
        if rng.random() < 0.5:
            return self._text(ITM_PROMPTS[media].format(text), YES)
        negative = pre_caption(
            negatives.negative_caption(rng, text, gt_objects), self.max_src_length
        )
        return self._text(ITM_PROMPTS[media].format(negative), NO)

    def qa(self, question: str, refs: str) -> dict:
        answer, conf = best_answer(refs)
        example = self._text(" " + pre_question(question, self.max_src_length), " " + answer)
        example["conf"] = conf
        return example

    def qa_itm(
        self, question: str, refs: str, negatives: NegativeSamples, rng: random.Random
    ) -> Optional[dict]:
        """None when no negative answer can be drawn and the coin asked for one."""
        answer, conf = best_answer(refs)
        text = pre_question(question, self.max_src_length)
        if rng.random() < 0.5:
            return self._text(QA_ITM_PROMPT.format(text, answer), YES)
        negative = negatives.negative_answer(rng, answer, conf)
        if negative is None:
            return None
        return self._text(QA_ITM_PROMPT.format(text, negative), NO)

    def box_tokens(self, box: Sequence[float]) -> torch.Tensor:
        return self.tokenizer.box_to_tokens(list(box), self.max_image_size)

    def grounding(self, caption: str, box: Sequence[float]) -> dict:
        tok = self.tokenizer
        bins = self.box_tokens(box)
        prompt = tok.encode(GROUNDING_PROMPT.format(pre_caption(caption, self.max_src_length)))
        bos, eos = torch.tensor([tok.bos]), torch.tensor([tok.eos])
        return {
            "source": torch.cat([bos, prompt, eos]),
            "target": torch.cat([bins, eos]),
            "prev_output_tokens": torch.cat([bos, bins]),
        }

    def grounded_caption(self, caption: str, box: Sequence[float]) -> dict:
        target = pre_caption(caption, self.max_tgt_length)
        if not target:
            raise ValueError("empty caption")
        prompt = torch.cat([self.tokenizer.encode(GROUNDED_CAPTION_PROMPT), self.box_tokens(box)])
        return self._example(prompt, " " + target)
