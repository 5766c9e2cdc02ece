"""The ``vqa_gen`` task (VQAv2 and zero-shot VizWiz / OK-VQA).

Shared with ``snli_ve`` (:mod:`unival.tasks.snli_ve`) through :class:`AnswerCandidatesTask`:

* a candidate answer set (``--ans2label-file``: a pickled dict answer -> label or a text
  file with one answer a line; else the JSON ``--ans2label-dict``) and the trie over it;
* constrained training: every sample carries trie constraint masks (unless
  ``--unconstrained-training``);
* validation predicts one answer per row, either by scoring every candidate (``allcand``,
  :mod:`unival.generation.candidate_scoring`) or by beam search with the decoder prompt
  forced as prefix and trie-masked answer steps (``beamsearch``); the row's score is the
  reference confidence of the prediction, logged as ``vqa_score`` (``snli_score``);
* :meth:`AnswerCandidatesTask.evaluate_split` is the hook ``unival.evaluation.run.evaluate`` calls.

fairseq forces prefixes of one length per call, and the trie must know where each row's
answer starts, so beam search runs once per distinct prefix length within a batch.
"""

import json
import logging
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from fairseq import metrics, utils
from fairseq.dataclass import ChoiceEnum
from fairseq.tasks import register_task

from unival.data.vqa_dataset import PROMPT_TYPES, VqaGenDataset, load_candidate_answers
from unival.generation.candidate_scoring import CandidateSet, predict_candidates
from unival.generation.trie import TrieLogitMask
from unival.metrics.vqa import confidence_score
from unival.tasks.base import UnivalTask
from unival.tasks.config import UnivalTaskConfig

logger = logging.getLogger(__name__)

INFERENCE_TYPES = ("allcand", "beamsearch")


@dataclass
class AnswerCandidatesConfig(UnivalTaskConfig):
    ans2label_dict: str = field(
        default='{"no": 0, "yes": 1}',
        metadata={
            "help": "JSON dict answer -> label: the candidate answers when no "
            "--ans2label-file is given"
        },
    )
    ans2label_file: Optional[str] = field(
        default=None,
        metadata={
            "help": "candidate answers: a pickled dict answer -> label (.pkl) or a text "
            "file, one answer a line"
        },
    )
    valid_batch_size: int = field(
        default=20, metadata={"help": "candidates scored per decoder pass (allcand)"}
    )
    prompt_type: ChoiceEnum(PROMPT_TYPES) = field(
        default="prev_output",
        metadata={"help": "decoder prompt: none, src, or prev_output (the question)"},
    )
    uses_ema: bool = field(
        default=False, metadata={"help": "validate with the EMA model (as --validate-with-ema)"}
    )
    read_from_img_path: bool = field(
        default=False, metadata={"help": "image column holds paths under --image-dir"}
    )


@dataclass
class VqaGenConfig(AnswerCandidatesConfig):
    max_object_length: int = field(
        default=30, metadata={"help": "object labels kept with --add-object"}
    )
    add_object: bool = field(
        default=False, metadata={"help": "append ' object: o1 o2 ...' to the question"}
    )
    val_inference_type: ChoiceEnum(INFERENCE_TYPES) = field(
        default="allcand",
        metadata={"help": "validation: score all candidates or trie-constrained beam search"},
    )
    unconstrained_training: bool = field(
        default=False,
        metadata={"help": "no candidate set: no trie masks, free beam search (needs beamsearch)"},
    )
    eval_args: str = field(
        default='{"beam":5,"unnormalized":true,"temperature":1.0}',
        metadata={"help": "generation args (JSON) for beamsearch validation"},
    )


class AnswerCandidatesTask(UnivalTask):
    """A UnivalTask whose outputs are short answers from a candidate set."""

    generates_in_validation = True
    metric_name = "vqa_score"

    def __init__(self, cfg: AnswerCandidatesConfig, tokenizer):
        super().__init__(cfg, tokenizer)
        if self.inference_type not in INFERENCE_TYPES:
            raise ValueError(
                f"inference type must be one of {INFERENCE_TYPES}, got {self.inference_type!r}"
            )
        if self.unconstrained and self.inference_type != "beamsearch":
            raise ValueError(
                "--unconstrained-training has no candidate set: use --val-inference-type beamsearch"
            )
        if self.inference_type == "beamsearch" and cfg.prompt_type == "src":
            raise ValueError(
                "beam search cannot force the 'src' prompt (it ends with EOS): "
                "use prev_output or none"
            )
        self.candidates: Optional[CandidateSet] = None
        self.trie_mask: Optional[TrieLogitMask] = None
        if not self.unconstrained:
            self.candidates = CandidateSet.from_answers(self.candidate_answers(), tokenizer)
            self.trie_mask = TrieLogitMask(self.candidates.trie)
            logger.info("%s: %d candidate answers", type(self).__name__, len(self.candidates))

    # ------------------------------------------------------------------ configuration
    @property
    def inference_type(self) -> str:
        return "allcand"

    @property
    def unconstrained(self) -> bool:
        return False

    @property
    def uses_ema(self) -> bool:
        return self.cfg.validate_with_ema or self.cfg.uses_ema

    @property
    def score_keys(self) -> Tuple[str, str]:
        prefix = self.metric_name.split("_")[0]
        return f"_{prefix}_score_sum", f"_{prefix}_cnt"

    def candidate_answers(self) -> List[str]:
        if self.cfg.ans2label_file:
            return load_candidate_answers(self.cfg.ans2label_file)
        return [str(a) for a in json.loads(self.cfg.ans2label_dict)]

    def dataset_kwargs(self) -> dict:
        return dict(
            candidates=self.candidates,
            prompt_type=str(self.cfg.prompt_type),
            patch_image_size=self.cfg.patch_image_size,
            max_src_length=self.cfg.max_src_length,
            max_tgt_length=self.cfg.max_tgt_length,
            image_dir=self.cfg.image_dir,
            skip_bad_samples=self.cfg.skip_bad_samples,
            read_from_img_path=self.cfg.read_from_img_path,
        )

    # ------------------------------------------------------------------ prediction
    def logit_masks(self) -> list:
        masks = super().logit_masks()
        return masks + [self.trie_mask] if self.trie_mask is not None else masks

    def inference_step(self, generator, models, sample, prefix_tokens=None, constraints=None):
        """Beam search with the rows' decoder prompts forced, one call per prefix length."""
        if prefix_tokens is None:
            prefix_tokens = sample.get("prefix_tokens")
        lengths = _prefix_lengths(
            prefix_tokens, self.tokenizer.pad, sample["net_input"]["src_tokens"].size(0)
        )
        results: List[Optional[list]] = [None] * len(lengths)
        with torch.no_grad():
            for length in sorted(set(lengths)):
                rows = [i for i, n in enumerate(lengths) if n == length]
                index = torch.tensor(rows, device=sample["net_input"]["src_tokens"].device)
                if self.trie_mask is not None:
                    self.trie_mask.set_answer_start(1 + length)
                prefix = prefix_tokens.index_select(0, index)[:, :length] if length else None
                hypos = generator.generate(
                    models,
                    _select_rows(sample, index),
                    prefix_tokens=prefix,
                    constraints=constraints,
                )
                for row, hypo in zip(rows, hypos):
                    results[row] = hypo
        return results

    def generate_texts(self, generator, models, sample) -> List[str]:
        """The best hypothesis of every row without its forced prefix, BPE-decoded."""
        hypos = self.inference_step(generator, models, sample)
        lengths = _prefix_lengths(sample.get("prefix_tokens"), self.tokenizer.pad, len(hypos))
        return [self.tokenizer.decode(h[0]["tokens"][n:]).strip() for h, n in zip(hypos, lengths)]

    def predict_answers(self, models, sample, generator=None) -> List[str]:
        """One answer per row of ``sample``: all-candidate scoring or beam search."""
        if self.inference_type == "allcand":
            if len(models) > 1:
                logger.warning("all-candidate scoring uses the first of %d models", len(models))
            return predict_candidates(
                models[0],
                sample["net_input"],
                sample["decoder_prompts"],
                self.candidates,
                self.cfg.valid_batch_size,
                self.tokenizer.pad,
                self.tokenizer.eos,
            )
        if generator is None:
            generator = self.validation_generator(models[0])
        return self.generate_texts(generator, models, sample)

    # ------------------------------------------------------------------ validation scores
    def validation_generation_scores(self, model, sample) -> Dict[str, float]:
        if not sample or "net_input" not in sample or not sample.get("ref_dicts"):
            return self.score_generation([], [])
        hyps = self.predict_answers([model], sample)
        if self.cfg.eval_print_samples and hyps:
            logger.info("example answer: %s (references %s)", hyps[0], sample["ref_dicts"][0])
        return self.score_generation(hyps, sample["ref_dicts"])

    def score_generation(
        self, hyps: Sequence[str], references: Sequence[Dict[str, float]]
    ) -> Dict[str, float]:
        total_key, count_key = self.score_keys
        return {
            total_key: sum(confidence_score(h, r) for h, r in zip(hyps, references)),
            count_key: len(hyps),
        }

    def reduce_generation_metrics(self, logging_outputs) -> None:
        total_key, count_key = self.score_keys
        count = sum(log.get(count_key, 0) for log in logging_outputs)
        if count > 0:
            metrics.log_scalar(
                total_key, utils.item(sum(log.get(total_key, 0) for log in logging_outputs))
            )
            metrics.log_scalar(count_key, count)
            metrics.log_derived(
                self.metric_name, lambda meters: _ratio(meters, total_key, count_key)
            )

    # ------------------------------------------------------------------ evaluation hook
    def prediction_record(self, uniq_id: str, answer: str, ref_dict: Dict[str, float]) -> dict:
        return {"question_id": int(uniq_id) if uniq_id.isdigit() else uniq_id, "answer": answer}

    def evaluate_split(self, models, generator, itr, use_cuda: bool = False, fp16: bool = False):
        """Predict every row of ``itr``: (records for predictions.json, scores for scores.json)."""
        records, total, nskipped = [], 0.0, 0
        for sample in itr:
            nskipped += int(sample.get("nskipped", 0)) if sample else 0
            if not sample or "net_input" not in sample:
                continue
            if use_cuda:
                sample = utils.move_to_cuda(sample)
            if fp16:
                sample = utils.apply_to_sample(
                    lambda t: t.half() if t.dtype is torch.float32 else t, sample
                )
            answers = self.predict_answers(models, sample, generator)
            ids = sample.get("uniq_ids") or [str(i) for i in sample["id"].tolist()]
            for uniq_id, answer, refs in zip(ids, answers, sample["ref_dicts"]):
                records.append(self.prediction_record(uniq_id, answer, refs))
                total += confidence_score(answer, refs)
        scores = {
            self.metric_name: round(total / len(records), 6) if records else 0.0,
            "n": len(records),
            "nskipped": nskipped,
            "inference": self.inference_type,
        }
        return records, scores


@register_task("vqa_gen", dataclass=VqaGenConfig)
class VqaGenTask(AnswerCandidatesTask):
    cfg: VqaGenConfig

    @property
    def inference_type(self) -> str:
        return str(self.cfg.val_inference_type)

    @property
    def unconstrained(self) -> bool:
        return self.cfg.unconstrained_training

    def build_dataset(self, split: str, tsv):

        return VqaGenDataset(
            split,
            tsv,
            self.tokenizer,
            add_object=self.cfg.add_object,
            max_object_length=self.cfg.max_object_length,
            **self.dataset_kwargs(),
        )


def _prefix_lengths(prefix_tokens: Optional[torch.Tensor], pad: int, bsz: int) -> List[int]:
    if prefix_tokens is None or prefix_tokens.numel() == 0:
        return [0] * bsz
    return prefix_tokens.ne(pad).sum(dim=1).tolist()


def _select_rows(sample: dict, index: torch.Tensor) -> dict:
    """The generator's view of rows ``index`` of ``sample`` (net_input and ids)."""
    net_input = {
        k: v.index_select(0, index) if torch.is_tensor(v) else v
        for k, v in sample["net_input"].items()
    }
    return {
        "id": sample["id"].index_select(0, index.to(sample["id"].device)),
        "net_input": net_input,
    }


def _ratio(meters, total_key: str, count_key: str) -> float:
    count = float(meters[count_key].sum)  # float(): 0-d tensors after a multi-process all-reduce
    return round(float(meters[total_key].sum) / count, 4) if count > 0 else 0.0
