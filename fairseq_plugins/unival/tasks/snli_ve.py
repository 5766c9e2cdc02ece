"""The ``snli_ve`` task (visual entailment).

Candidates are the three answers of ``--ans2label-dict`` (default {"no": 0, "yes": 1,
"maybe": 2}); training uses trie constraint masks and the ``prev_output`` prompt like VQA;
validation and evaluation always score all candidates; the accuracy is logged as
``snli_score`` (``--best-checkpoint-metric snli_score --maximize-best-checkpoint-metric``).
"""

from dataclasses import dataclass, field

from fairseq.tasks import register_task

from unival.data.snli_ve_dataset import SnliVeDataset
from unival.tasks.vqa_gen import AnswerCandidatesConfig, AnswerCandidatesTask


@dataclass
class SnliVeConfig(AnswerCandidatesConfig):
    ans2label_dict: str = field(
        default='{"no": 0, "yes": 1, "maybe": 2}',
        metadata={"help": "JSON dict answer -> label: the candidate answers"},
    )
    add_caption: bool = field(
        default=False,
        metadata={"help": "put the premise caption in the prompt (ratatouille/fusing recipes)"},
    )


@register_task("snli_ve", dataclass=SnliVeConfig)
class SnliVeTask(AnswerCandidatesTask):
    cfg: SnliVeConfig
    metric_name = "snli_score"

    def build_dataset(self, split: str, tsv):

        return SnliVeDataset(
            split, tsv, self.tokenizer, add_caption=self.cfg.add_caption, **self.dataset_kwargs()
        )

    def prediction_record(self, uniq_id, answer, ref_dict) -> dict:
        label = next(iter(ref_dict), None)
        return {"uniq_id": uniq_id, "answer": answer, "label": label, "correct": answer == label}
