"""UnivalTask / CaptionTask: data files per epoch, batching, generation, validation scores, skips.

Models here are scripted stand-ins (fixed next-token preferences), so generated captions and
therefore the expected scores are known without the real network.
"""

import logging

import pytest
import torch
from fairseq.logging import metrics
from fairseq.models import FairseqDecoder, FairseqEncoder, FairseqEncoderDecoderModel
from fairseq.tasks import TASK_REGISTRY
from PIL import Image

from unival.criterions.label_smoothed_ce import (
    AdjustLabelSmoothedCrossEntropyConfig,
    AdjustLabelSmoothedCrossEntropyCriterion,
)
from unival.data.io.image import encode_image_base64
from unival.generation import ConstraintRangeMask, UnivalSequenceGenerator
from unival.metrics.caption import bleu4, cider
from unival.tasks.caption import CaptionConfig, CaptionTask
from unival.tokenizer import build_dictionary_from_texts, load_gpt2_bpe

REFERENCES = [
    ["red square", "a red box"],
    ["green square", "a green box"],
    ["blue square", "a blue box on white"],
    ["red square on white", "a red thing"],
    ["yellow square", "a small yellow box"],
]
COLORS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (250, 10, 10), (255, 255, 0)]


def _write_tsv(path, references=REFERENCES):
    rows = []
    for i, (refs, color) in enumerate(zip(references, COLORS)):
        image = encode_image_base64(Image.new("RGB", (8, 8), color))
        rows.append("\t".join([f"u{i}", str(100 + i), "&&".join(refs), "labels", image]))
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("caption_task")
    texts = [" what does the image describe?"] + [" " + r for refs in REFERENCES for r in refs]
    build_dictionary_from_texts(texts, load_gpt2_bpe(), save_path=root / "dict.txt")
    _write_tsv(root / "valid.tsv")
    return root


def make_task(data_dir, **overrides):
    cfg = CaptionConfig(
        data=str(data_dir / "valid.tsv"),
        selected_cols="1,4,2",
        patch_image_size=16,
        eval_args='{"beam": 2, "max_len_b": 6}',
        eval_cider=True,
        eval_bleu=True,
        **overrides,
    )
    return CaptionTask.setup_task(cfg)


class EchoEncoder(FairseqEncoder):
    def forward(self, src_tokens, src_lengths=None, **kwargs):
        return {"encoder_out": [src_tokens.float()]}

    def reorder_encoder_out(self, encoder_out, new_order):
        return {"encoder_out": [encoder_out["encoder_out"][0].index_select(0, new_order)]}


class ScriptedDecoder(FairseqDecoder):
    """At output position t prefers ``script[t]`` (logit 10), then ``runner_up[t]`` (logit 5);
    EOS after."""

    def __init__(self, dictionary, script, runner_up=()):
        super().__init__(dictionary)
        self.script, self.runner_up = list(script), list(runner_up)
        self.first_inputs = []

    def forward(self, prev_output_tokens, encoder_out=None, **kwargs):
        bsz, length = prev_output_tokens.shape
        self.first_inputs.append(prev_output_tokens[:, 0].tolist())
        logits = torch.zeros(bsz, length, len(self.dictionary))
        for t in range(length):
            logits[:, t, self.script[t] if t < len(self.script) else self.dictionary.eos()] = 10.0
            if t < len(self.runner_up):
                logits[:, t, self.runner_up[t]] = 5.0
        return logits, None


class ScriptedModel(FairseqEncoderDecoderModel):
    def __init__(self, dictionary, script, runner_up=()):
        super().__init__(EchoEncoder(dictionary), ScriptedDecoder(dictionary, script, runner_up))

    def forward(self, src_tokens, src_lengths, prev_output_tokens, **kwargs):
        return self.decoder(prev_output_tokens, encoder_out=self.encoder(src_tokens, src_lengths))


def criterion_for(task):
    cfg = AdjustLabelSmoothedCrossEntropyConfig(sentence_avg=False, label_smoothing=0.1)
    return AdjustLabelSmoothedCrossEntropyCriterion(task, cfg)


def test_registered_with_the_original_defaults():
    assert TASK_REGISTRY["caption"] is CaptionTask
    cfg = CaptionConfig()
    # flags that switch scoring on (a True default would make fairseq's --eval-cider a store_false)
    assert (cfg.eval_cider, cfg.eval_bleu, cfg.scst) == (False, False, False)
    assert (cfg.num_bins, cfg.code_dict_size, cfg.max_src_length, cfg.max_tgt_length) == (
        1000,
        8192,
        128,
        30,
    )
    assert (cfg.patch_image_size, cfg.max_image_size, cfg.skip_bad_samples) == (480, 512, False)


def test_epoch_rotates_over_training_files_and_other_splits_read_the_last():
    task = CaptionTask(CaptionConfig(data="t1.tsv,t2.tsv,t3.tsv,v.tsv"), tokenizer=None)
    assert [task.path_for_split("train", e) for e in (1, 2, 3, 4)] == [
        "t1.tsv",
        "t2.tsv",
        "t3.tsv",
        "t1.tsv",
    ]
    assert task.path_for_split("valid") == task.path_for_split("test", 7) == "v.tsv"
    assert task.has_sharded_data("train") and not task.has_sharded_data("valid")
    single = CaptionTask(CaptionConfig(data="t1.tsv,v.tsv"), tokenizer=None)
    assert single.path_for_split("train", 5) == "t1.tsv" and not single.has_sharded_data("train")


def test_setup_finds_dict_beside_data_and_explains_when_missing(data_dir, tmp_path):
    task = make_task(data_dir)
    assert task.source_dictionary is task.target_dictionary
    assert task.cfg.dict_path == str(data_dir / "dict.txt")
    assert task.source_dictionary[len(task.source_dictionary) - 1] == "<bin_999>"
    with pytest.raises(FileNotFoundError, match="--dict-path"):
        CaptionTask.setup_task(CaptionConfig(data=str(tmp_path / "elsewhere.tsv")))


def test_valid_batches_are_consecutive_rows_with_references(data_dir):
    task = make_task(data_dir)
    task.load_dataset("valid")
    itr = task.get_batch_iterator(task.dataset("valid"), max_sentences=3)
    batches = list(itr.next_epoch_itr(shuffle=False))
    assert [b["id"].tolist() for b in batches] == [[0, 1, 2], [3, 4]]
    assert batches[1]["references"] == [REFERENCES[3], REFERENCES[4]]
    assert batches[0]["net_input"]["patch_images"].shape == (3, 3, 16, 16)
    with pytest.raises(ValueError, match="--batch-size"):
        task.get_batch_iterator(task.dataset("valid"), max_tokens=100)


def test_rank_with_fewer_batches_gets_an_empty_one(data_dir):
    from unival.data.tsv import TSVFile

    task = make_task(data_dir)
    tsv = TSVFile(
        data_dir / "valid.tsv", selected_cols="1,4,2", slice_id=1, slice_count=2
    )  # rows 3, 4
    task.tsv_files["valid"], task.datasets["valid"] = tsv, task.build_dataset("valid", tsv)
    # 5 rows over 2 ranks -> 3 rows on rank 0 -> 2 batches of 2; rank 1 has 1 and gets an empty one
    itr = task.get_batch_iterator(task.dataset("valid"), max_sentences=2, num_shards=2, shard_id=1)
    batches = list(itr.next_epoch_itr(shuffle=False))
    assert len(batches) == 2 and batches[0]["id"].tolist() == [0, 1] and batches[1] == {}


def test_generator_starts_from_bos_and_applies_constraint_range(data_dir):
    task = make_task(data_dir, constraint_range="5,6")
    dictionary = task.target_dictionary
    model = ScriptedModel(dictionary, script=[7], runner_up=[5])  # 7 is outside [5, 6)
    sample = {
        "net_input": {"src_tokens": torch.tensor([[0, 9, 2]]), "src_lengths": torch.tensor([3])}
    }
    generator = task.build_generator([model], _args(beam=2))
    assert isinstance(generator, UnivalSequenceGenerator)
    assert any(isinstance(m, ConstraintRangeMask) for m in generator.model.masks)
    best = task.inference_step(generator, [model], sample)[0][0]["tokens"].tolist()
    assert best == [5, dictionary.eos()]
    assert all(first == [dictionary.bos()] * len(first) for first in model.decoder.first_inputs)
    unconstrained = make_task(data_dir).build_generator([model], _args(beam=2))
    assert unconstrained.generate([model], sample)[0][0]["tokens"].tolist() == [7, dictionary.eos()]


def test_text_constraint_range_keeps_generation_off_image_codes_and_bins(data_dir):
    task = make_task(data_dir, constraint_range="text")
    dictionary = task.target_dictionary
    code, first_bin = dictionary.index("<code_0>"), dictionary.index("<bin_0>")
    assert 10 < code < first_bin
    mask = task.logit_masks()[0]
    fillers = [
        i
        for i in range(code)
        if dictionary[i].startswith("madeupword") or dictionary[i] == "<mask>"
    ]
    assert fillers == list(
        range(code - len(fillers), code)
    )  # after the words: size rounding, BART's <mask>
    assert (mask.start, mask.end) == (4, code - len(fillers))  # every word: no filler, code or bin
    # a model that prefers an image code, then a bin, then text: the text token is generated
    model = ScriptedModel(dictionary, script=[code + 5], runner_up=[first_bin])
    sample = {
        "net_input": {"src_tokens": torch.tensor([[0, 9, 2]]), "src_lengths": torch.tensor([3])}
    }
    assert make_task(data_dir).build_generator([model], _args(beam=1)).generate([model], sample)[0][
        0
    ]["tokens"].tolist() == [code + 5, dictionary.eos()]
    generator = task.build_generator([model], _args(beam=1))
    best = generator.generate([model], sample)[0][0]["tokens"].tolist()
    assert best[0] < code and best[-1] == dictionary.eos()


def _args(**kwargs):
    from argparse import Namespace

    return Namespace(**kwargs)


def test_validation_scores_equal_corpus_scores_over_batches(data_dir):
    task = make_task(data_dir)
    task.load_dataset("valid")
    hyp_ids = task.tokenizer.encode(" red square on white").tolist()
    model = ScriptedModel(task.target_dictionary, script=hyp_ids)
    criterion = criterion_for(task)
    itr = task.get_batch_iterator(task.dataset("valid"), max_sentences=2)
    with metrics.aggregate(new_root=True) as agg:
        for batch in itr.next_epoch_itr(shuffle=False):
            _, _, log = task.valid_step(batch, model, criterion)
            task.reduce_metrics([log], criterion)
        values = agg.get_smoothed_values()
    hyps = {i: "red square on white" for i in range(len(REFERENCES))}
    refs = dict(enumerate(REFERENCES))
    assert values["cider"] == pytest.approx(cider(hyps, refs), abs=1e-4)
    assert values["bleu4"] == pytest.approx(bleu4(hyps, refs), abs=1e-4)
    assert values["cider"] > 0.5 and values["loss"] > 0


def test_skipped_rows_are_summed_and_reported(data_dir, caplog):
    task = make_task(data_dir)
    criterion = criterion_for(task)
    logs = []
    for nskipped, reasons in (
        (2, ["a.tsv:3 column 4 (image): bad", "a.tsv:5 column 4 (image): bad"]),
        (1, ["a.tsv:9 column 2 (caption): empty"]),
    ):
        batch = {"nskipped": nskipped, "skipped": reasons}
        logs.append(
            {
                "loss": 1.0,
                "nll_loss": 1.0,
                "ntokens": 2,
                "nsentences": 1,
                "sample_size": 2,
                "nskipped": task.skipped.record("train", batch),
            }
        )
    with metrics.aggregate(new_root=True) as agg:
        task.reduce_metrics(logs, criterion)
        assert agg.get_smoothed_values()["nskipped"] == 3
    with caplog.at_level(logging.WARNING, logger="unival.tasks.skipped"):
        task.begin_valid_epoch(1, None)
    assert (
        "3 bad train sample(s)" in caplog.text
        and "a.tsv:9 column 2 (caption): empty" in caplog.text
    )


def test_train_step_passes_update_num_to_the_criterion(data_dir):
    task = make_task(data_dir)
    seen = {}

    class RecordingCriterion(torch.nn.Module):
        def forward(self, model, sample, update_num=0):
            seen["update_num"] = update_num
            return (model.weight * 2).sum(), 1, {"loss": 0.0}

    class Optimizer:
        def backward(self, loss):
            loss.backward()

    model = torch.nn.Linear(1, 1)
    model.set_num_updates = lambda n: None
    _, _, log = task.train_step(
        {"nskipped": 1, "skipped": ["x"]}, model, RecordingCriterion(), Optimizer(), 42
    )
    assert seen["update_num"] == 42 and log["nskipped"] == 1
    assert model.weight.grad.item() == pytest.approx(2.0)


def test_fairseq_command_line_turns_scoring_on_and_shares_constraint_range(plugin_dir):
    from fairseq import options
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf

    parser = options.get_training_parser()
    args = options.parse_args_and_arch(
        parser,
        [
            "t.tsv,v.tsv",
            "--user-dir",
            str(plugin_dir),
            "--task",
            "caption",
            "--arch",
            "unival_tiny",
            "--criterion",
            "adjust_label_smoothed_cross_entropy",
            "--eval-cider",
            "--constraint-range",
            "5,9",
        ],
    )
    cfg = convert_namespace_to_omegaconf(args)
    assert cfg.task.eval_cider is True and cfg.task.eval_bleu is False
    assert cfg.task.constraint_range == cfg.criterion.constraint_range == "5,9"
    assert cfg.task.data == "t.tsv,v.tsv"


def test_a_batch_without_references_logs_the_same_zero_keys(data_dir):
    """Workers sum logging outputs key by key, so a dummy/empty batch must carry every key."""
    task = make_task(data_dir)
    empty = task.score_generation([], [])
    full = task.score_generation(["red square"], [["red square", "a red box"]])
    assert set(empty) == set(full) and all(v == 0 for v in empty.values())
    assert full["_cider_cnt"] == 1 and full["_bleu_guess_1"] == 2
