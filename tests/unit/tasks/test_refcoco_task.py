"""RefCOCO grounding: samples (prompt, bins, ratios), bin-only decoding, de-quantisation, Acc@0.5.

Models are scripted stand-ins (fixed next-token preferences), so generated boxes and the
expected scores are known without the real network.
"""

from argparse import Namespace

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
from unival.tasks.refcoco import BinTokensMask, RefcocoConfig, RefcocoTask
from unival.tokenizer import build_dictionary_from_texts, load_gpt2_bpe

# (uniq_id, image w x h, text, region) -- columns after --selected-cols 0,4,2,3
ROWS = [
    ("r0", (200, 100), "the Left-most red box", "0,0,100,50"),
    ("r1", (100, 100), "blue thing", "10,20,60,80"),
    ("r2", (64, 128), "a tiny dot", "32,64,48,96"),
]


def _write_tsv(path, rows=ROWS):
    lines = []
    for uid, (w, h), text, region in rows:
        image = encode_image_base64(Image.new("RGB", (w, h), (200, 30, 30)))
        lines.append("\t".join([uid, "img", text, region, image]))  # file columns 0..4
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("refcoco_task")
    texts = [
        ' which region does the text " the left most red box " describe?',
        "blue thing a tiny dot",
    ]
    build_dictionary_from_texts(texts, load_gpt2_bpe(), save_path=root / "dict.txt")
    _write_tsv(root / "valid.tsv")
    return root


def make_task(data_dir, **overrides):
    cfg = RefcocoConfig(
        data=str(data_dir / "valid.tsv"),
        selected_cols="0,4,2,3",
        patch_image_size=64,
        eval_acc=True,
        eval_args='{"beam": 2, "min_len": 4, "max_len_a": 0, "max_len_b": 4}',
        **overrides,
    )
    return RefcocoTask.setup_task(cfg)


class EchoEncoder(FairseqEncoder):
    def forward(self, src_tokens, src_lengths=None, **kwargs):
        return {"encoder_out": [src_tokens.float()]}

    def reorder_encoder_out(self, encoder_out, new_order):
        return {"encoder_out": [encoder_out["encoder_out"][0].index_select(0, new_order)]}


class ScriptedDecoder(FairseqDecoder):
    """Output position t: logit 10 on ``script[t]``, 5 on ``runner_up[t]``; EOS after the script."""

    def __init__(self, dictionary, script, runner_up=()):
        super().__init__(dictionary)
        self.script, self.runner_up = list(script), list(runner_up)

    def forward(self, prev_output_tokens, encoder_out=None, **kwargs):
        bsz, length = prev_output_tokens.shape
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


def test_registered_with_grounding_defaults():
    assert TASK_REGISTRY["refcoco"] is RefcocoTask
    cfg = RefcocoConfig()
    assert (cfg.patch_image_size, cfg.max_image_size, cfg.num_bins, cfg.acc_thresh) == (
        512,
        512,
        1000,
        "0.5",
    )
    assert (cfg.eval_acc, cfg.unconstrained_bins, cfg.medium_area) == (False, False, False)


def test_sample_has_prompt_bins_and_resize_ratios(data_dir):
    task = make_task(data_dir)
    task.load_dataset("valid")
    tok = task.tokenizer
    s = task.dataset("valid")[0]
    expected_prompt = tok.encode(
        ' which region does the text " the left most red box " describe?'
    ).tolist()
    assert s["source"].tolist() == [tok.bos] + expected_prompt + [tok.eos]
    # 200x100 image -> 64x64: box (0,0,100,50) -> (0,0,32,32);
    # k = round(32 / 512 * 999) = round(62.4375) = 62
    k = tok.bin_offset
    assert s["target"].tolist() == [k + 0, k + 0, k + 62, k + 62, tok.eos]
    assert s["prev_output_tokens"].tolist() == [tok.bos, k, k, k + 62, k + 62]
    assert s["patch_image"].shape == (3, 64, 64)
    assert (s["w_resize_ratio"], s["h_resize_ratio"]) == (64 / 200, 64 / 100)
    assert s["region_coord"].tolist() == [0, 0, 100, 50]


def test_batches_carry_ratios_and_original_regions(data_dir):
    task = make_task(data_dir)
    task.load_dataset("valid")
    batch = next(
        iter(
            task.get_batch_iterator(task.dataset("valid"), max_sentences=3).next_epoch_itr(
                shuffle=False
            )
        )
    )
    assert batch["w_resize_ratios"].tolist() == pytest.approx([0.32, 0.64, 1.0])
    assert batch["h_resize_ratios"].tolist() == pytest.approx([0.64, 0.64, 0.5])
    assert batch["region_coords"].tolist() == [[0, 0, 100, 50], [10, 20, 60, 80], [32, 64, 48, 96]]
    assert batch["target"].shape == (3, 5) and batch["ntokens"] == 15


def test_bad_region_is_reported_with_location(data_dir, tmp_path):
    import shutil

    shutil.copy(data_dir / "dict.txt", tmp_path / "dict.txt")
    _write_tsv(tmp_path / "bad.tsv", [("x", (10, 10), "t", "1,2,3")])
    task = RefcocoTask.setup_task(
        RefcocoConfig(data=str(tmp_path / "bad.tsv"), selected_cols="0,4,2,3", patch_image_size=16)
    )
    task.load_dataset("valid")
    with pytest.raises(ValueError, match=r"bad.tsv:1 column 3 \(region\): region needs 4"):
        task.dataset("valid")[0]


def test_decoding_only_emits_four_bins_even_when_the_model_prefers_words(data_dir):
    task = make_task(data_dir)
    dictionary, tok = task.target_dictionary, task.tokenizer
    word = tok.encode(" blue").tolist()[0]
    bins = [tok.bin_offset + k for k in (5, 6, 7, 8)]
    # the model prefers a word (and EOS at step 0) everywhere; bins are only runners-up
    model = ScriptedModel(dictionary, script=[dictionary.eos(), word, word, word], runner_up=bins)
    generator = task.build_generator(
        [model], Namespace(beam=2, min_len=4, max_len_a=0, max_len_b=4)
    )
    assert any(isinstance(m, BinTokensMask) for m in generator.model.masks)
    sample = {
        "net_input": {
            "src_tokens": torch.tensor([[0, 9, 2], [0, 8, 2]]),
            "src_lengths": torch.tensor([3, 3]),
        }
    }
    for hypos in task.inference_step(generator, [model], sample):
        for hypo in hypos:
            tokens = hypo["tokens"].tolist()
            assert len(tokens) == 5 and tokens[-1] == dictionary.eos()
            assert all(tok.bin_offset <= t < tok.bin_offset + tok.num_bins for t in tokens[:4])
        assert hypos[0]["tokens"].tolist()[:4] == bins
    free = make_task(data_dir, unconstrained_bins=True).build_generator(
        [model], Namespace(beam=2, min_len=4, max_len_a=0, max_len_b=4)
    )
    assert free.generate([model], sample)[0][0]["tokens"].tolist()[1] == word


def test_tokens_to_original_box_dequantises_and_undoes_the_resize(data_dir):
    task = make_task(data_dir)
    k = task.tokenizer.bin_offset
    tokens = torch.tensor([k + 0, k + 999, k + 333, k + 999, task.tokenizer.eos])
    # coord = k / 999 * 512, then x / 0.5, y / 0.25
    box = task.tokens_to_original_box(tokens, 0.5, 0.25)
    assert box == pytest.approx([0.0, 2048.0, 333 / 999 * 512 / 0.5, 2048.0])
    assert task.tokens_to_original_box(torch.tensor([k, k + 1, task.tokenizer.eos]), 1.0, 1.0) == [
        0,
        0,
        0,
        0,
    ]


def test_validation_logs_accuracy_over_batches(data_dir):
    task = make_task(data_dir, acc_thresh="0.5,0.9")
    task.load_dataset("valid")
    k = task.tokenizer.bin_offset
    # the model always answers bins (0, 0, 62, 62): in 64x64 pixels (0, 0, 31.78, 31.78)
    model = ScriptedModel(task.target_dictionary, script=[k, k, k + 62, k + 62])
    criterion = AdjustLabelSmoothedCrossEntropyCriterion(
        task, AdjustLabelSmoothedCrossEntropyConfig(sentence_avg=False, label_smoothing=0.1)
    )
    itr = task.get_batch_iterator(task.dataset("valid"), max_sentences=2)
    with metrics.aggregate(new_root=True) as agg:
        for batch in itr.next_epoch_itr(shuffle=False):
            _, _, log = task.valid_step(batch, model, criterion)
            task.reduce_metrics([log], criterion)
        values = agg.get_smoothed_values()
    side = 62 / 999 * 512  # 31.78 px in the 64x64 image
    # row 0: (0,0,side/0.32,side/0.64) = (0,0,99.3,49.66) vs (0,0,100,50): IoU 0.986
    #   -> hit at 0.5 and 0.9
    # row 1: (0,0,49.66,49.66) vs (10,20,60,80): inter 39.66*29.66, union 2466+3000-1176
    #   -> IoU 0.274 miss
    # row 2: (0,0,31.78,63.56) vs (32,64,48,96): no overlap -> miss
    iou0 = (side / 0.32 * side / 0.64) / (100 * 50 + 1e-6)
    inter1 = (side / 0.64 - 10) * (side / 0.64 - 20)
    iou1 = inter1 / ((side / 0.64) ** 2 + 3000 - inter1 + 1e-6)
    assert values["score"] == pytest.approx(1 / 3, abs=1e-4)
    assert values["acc@0.5"] == pytest.approx(1 / 3, abs=1e-4) and values[
        "acc@0.9"
    ] == pytest.approx(1 / 3, abs=1e-4)
    assert values["miou"] == pytest.approx((iou0 + iou1) / 3, abs=1e-4)


def test_evaluation_hook_writes_boxes_and_accuracy(data_dir):
    task = make_task(data_dir)
    task.load_dataset("test")
    k = task.tokenizer.bin_offset
    model = ScriptedModel(task.target_dictionary, script=[k, k, k + 62, k + 62])
    generator = task.build_generator(
        [model], Namespace(beam=2, min_len=4, max_len_a=0, max_len_b=4)
    )
    batches = task.get_batch_iterator(task.dataset("test"), max_sentences=2).next_epoch_itr(
        shuffle=False
    )
    predictions, scores = task.evaluate_split([model], generator, batches)
    assert [p["uniq_id"] for p in predictions] == ["r0", "r1", "r2"]
    assert predictions[0]["box"] == pytest.approx(
        [0, 0, 99.30, 49.65], abs=0.006
    )  # 31.776 / 0.32, / 0.64
    assert (
        scores["n"] == 3 and scores["acc@0.5"] == pytest.approx(1 / 3) and scores["nskipped"] == 0
    )
    assert scores["score"] == scores["acc@0.5"]
