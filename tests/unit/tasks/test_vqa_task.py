"""VqaGenTask: configuration, all-candidate scores by hand, trie beam search, vqa_score.

The models are stand-ins with known logits, so expected scores are computed here with
log-sum-exp over the allowed tokens, independently of the code under test.
"""

import math

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
from unival.generation.candidate_scoring import score_candidates
from unival.tasks.vqa_gen import VqaGenConfig, VqaGenTask
from unival.tokenizer import build_dictionary_from_texts, load_gpt2_bpe

CANDIDATES = ["red", "blue", "light blue", "yes", "no"]
# (question_id, question, answers): questions of different token lengths in one batch
ROWS = [
    ("11", "what color is it?", "1.0|!+red&&0.3|!+light blue"),
    ("12", "is it red?", "1.0|!+yes"),
    ("13", "what color is the big square?", "0.6|!+blue&&1.0|!+light blue"),
]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("vqa_task")
    texts = [" " + q for _, q, _ in ROWS] + [" " + c for c in CANDIDATES]
    build_dictionary_from_texts(texts, load_gpt2_bpe(), save_path=root / "dict.txt")
    image = encode_image_base64(Image.new("RGB", (8, 8), (10, 10, 200)))
    (root / "valid.tsv").write_text(
        "".join(f"{q}\t7\t{text}\t{a}\t\t{image}\n" for q, text, a in ROWS)
    )
    (root / "answers.txt").write_text("\n".join(CANDIDATES) + "\n")
    return root


def make_task(data_dir, **overrides):
    cfg = VqaGenConfig(
        data=str(data_dir / "valid.tsv"),
        selected_cols="0,5,2,3,4",
        patch_image_size=8,
        code_dict_size=0,
        num_bins=10,
        ans2label_file=str(data_dir / "answers.txt"),
        **overrides,
    )
    return VqaGenTask.setup_task(cfg)


def first_batch(task, size=3):
    task.load_dataset("valid")
    dataset = task.dataset("valid")
    return dataset.collater([dataset[i] for i in range(size)])


class _Encoder(FairseqEncoder):
    def forward(self, src_tokens, src_lengths=None, **kwargs):
        return {"encoder_out": [src_tokens.float()]}

    def reorder_encoder_out(self, encoder_out, new_order):
        return {"encoder_out": [encoder_out["encoder_out"][0].index_select(0, new_order)]}


class _FixedDecoder(FairseqDecoder):
    """logits = ``base`` at every position, plus ``bonus`` on ``favourite[sample]`` (the sample
    is told apart by its source length, read from the encoder output)."""

    def __init__(self, dictionary, base, favourite=None, bonus=8.0):
        super().__init__(dictionary)
        self.base, self.favourite, self.bonus = base, favourite or {}, bonus

    def forward(self, prev_output_tokens, encoder_out=None, **kwargs):
        bsz, length = prev_output_tokens.shape
        logits = self.base.repeat(bsz, length, 1)
        src = encoder_out["encoder_out"][0]
        for b in range(bsz):
            token = self.favourite.get(int(src[b].ne(1).sum()))
            if token is not None:
                logits[b, :, token] += self.bonus
        return logits, None


def fixed_model(task, base, favourite=None):
    dictionary = task.target_dictionary
    model = FairseqEncoderDecoderModel(
        _Encoder(dictionary), _FixedDecoder(dictionary, base, favourite)
    )

    def forward(src_tokens, src_lengths, prev_output_tokens, **kwargs):
        return model.decoder(prev_output_tokens, encoder_out=model.encoder(src_tokens, src_lengths))

    model.forward = forward
    return model.eval()


def test_registered_with_reference_defaults():
    assert TASK_REGISTRY["vqa_gen"] is VqaGenTask
    cfg = VqaGenConfig()
    assert (cfg.prompt_type, cfg.val_inference_type, cfg.valid_batch_size) == (
        "prev_output",
        "allcand",
        20,
    )
    assert cfg.ans2label_dict == '{"no": 0, "yes": 1}' and not cfg.unconstrained_training


def test_inconsistent_settings_are_refused(data_dir):
    with pytest.raises(ValueError, match="beamsearch"):
        make_task(data_dir, unconstrained_training=True)
    with pytest.raises(ValueError, match="src"):
        make_task(data_dir, prompt_type="src", val_inference_type="beamsearch")


def test_all_candidate_scores_equal_constrained_log_probabilities_by_hand(data_dir):
    task = make_task(data_dir, valid_batch_size=2)  # three chunks of candidates
    tok = task.tokenizer
    torch.manual_seed(0)
    base = torch.randn(len(task.target_dictionary))
    batch = first_batch(task)
    scores = score_candidates(
        fixed_model(task, base),
        batch["net_input"],
        batch["decoder_prompts"],
        task.candidates,
        chunk_size=2,
        pad=tok.pad,
        eos=tok.eos,
    )
    assert scores.shape == (3, len(CANDIDATES))

    ids = {c: tok.encode(" " + c).tolist() for c in CANDIDATES}
    firsts = sorted({t[0] for t in ids.values()})

    def lsm(token, allowed):  # log-softmax of base over the allowed tokens
        return base[token].item() - torch.logsumexp(base[sorted(set(allowed))], 0).item()

    light, blue = ids["light blue"]
    expected = {
        "red": lsm(ids["red"][0], firsts) + lsm(tok.eos, [tok.eos]),
        "blue": lsm(blue, firsts) + 0.0,
        "light blue": lsm(light, firsts) + lsm(blue, [blue]) + 0.0,
        "yes": lsm(ids["yes"][0], firsts),
        "no": lsm(ids["no"][0], firsts),
    }
    for j, answer in enumerate(CANDIDATES):  # the same logits for every sample
        assert scores[:, j].tolist() == pytest.approx([expected[answer]] * 3, abs=1e-5), answer


def test_validation_logs_vqa_score_from_allcand_predictions(data_dir):
    task = make_task(data_dir)
    tok = task.tokenizer
    base = torch.zeros(len(task.target_dictionary))
    batch = first_batch(task)
    lengths = batch["net_input"]["src_lengths"].tolist()
    # sample 0 prefers "red" (conf 1.0), sample 1 "no" (0), sample 2 "light" -> "light blue" (1.0)
    favourite = {
        lengths[0]: tok.encode(" red")[0].item(),
        lengths[1]: tok.encode(" no")[0].item(),
        lengths[2]: tok.encode(" light")[0].item(),
    }
    model = fixed_model(task, base, favourite)
    assert task.predict_answers([model], batch) == ["red", "no", "light blue"]
    criterion = AdjustLabelSmoothedCrossEntropyCriterion(
        task, AdjustLabelSmoothedCrossEntropyConfig(sentence_avg=False, label_smoothing=0.1)
    )
    _, _, log = task.valid_step(batch, model, criterion)
    assert (log["_vqa_score_sum"], log["_vqa_cnt"]) == (2.0, 3)
    with metrics.aggregate() as agg:
        task.reduce_metrics(
            [log, {"_vqa_score_sum": 0.3, "_vqa_cnt": 1, "loss": 0.0, "sample_size": 1}], criterion
        )
        assert agg.get_smoothed_values()["vqa_score"] == pytest.approx(round(2.3 / 4, 4))


def test_beam_search_forces_each_question_and_answers_from_the_trie(data_dir):
    task = make_task(
        data_dir, val_inference_type="beamsearch", eval_args='{"beam": 3, "unnormalized": true}'
    )
    tok = task.tokenizer
    base = torch.zeros(len(task.target_dictionary))
    base[tok.encode(" what")[0]] = 30.0  # a question word the trie must keep out of answers
    batch = first_batch(task)
    lengths = batch["net_input"]["src_lengths"].tolist()
    assert len(set(lengths)) == 3  # three prefix lengths in one batch
    favourite = {
        lengths[0]: tok.encode(" blue")[0].item(),
        lengths[1]: tok.encode(" yes")[0].item(),
        lengths[2]: tok.encode(" light")[0].item(),
    }
    model = fixed_model(task, base, favourite)
    answers = task.predict_answers([model], batch)
    assert answers == ["blue", "yes", "light blue"]
    # the hypotheses start with each row's own question, forced
    hypos = task.inference_step(task.validation_generator(model), [model], batch)
    for hypo, prefix in zip(hypos, batch["decoder_prompts"]):
        assert hypo[0]["tokens"][: prefix.numel() - 1].tolist() == prefix[1:].tolist()
    _, _, log = task.valid_step(
        batch,
        model,
        AdjustLabelSmoothedCrossEntropyCriterion(
            task, AdjustLabelSmoothedCrossEntropyConfig(sentence_avg=False)
        ),
    )
    assert log["_vqa_score_sum"] == pytest.approx(0.0 + 1.0 + 1.0) and log["_vqa_cnt"] == 3


def test_evaluation_hook_writes_question_ids_and_scores(data_dir):
    task = make_task(data_dir)
    tok = task.tokenizer
    batch = first_batch(task)
    favourite = {
        n: tok.encode(" light")[0].item() for n in batch["net_input"]["src_lengths"].tolist()
    }
    model = fixed_model(task, torch.zeros(len(task.target_dictionary)), favourite)
    records, scores = task.evaluate_split([model], None, [batch, {}])
    assert records == [{"question_id": q, "answer": "light blue"} for q in (11, 12, 13)]
    assert scores["vqa_score"] == pytest.approx((0.3 + 0.0 + 1.0) / 3) and scores["n"] == 3
    assert (
        math.isclose(scores["vqa_score"], 0.433333, abs_tol=1e-6)
        and scores["inference"] == "allcand"
    )
