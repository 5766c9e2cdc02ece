"""VQA samples: answer parsing, prompt types, targets, constraint masks, candidates, bad rows."""

import pickle

import pytest
import torch
from PIL import Image

from unival.data.errors import BadSampleError
from unival.data.io.image import encode_image_base64
from unival.data.tsv import TSVFile
from unival.data.vqa_dataset import (
    VqaGenDataset,
    load_candidate_answers,
    parse_answer_confidences,
    prompted_sequences,
)
from unival.generation.candidate_scoring import CandidateSet
from unival.tokenizer import UnivalTokenizer, build_dictionary_from_texts, load_gpt2_bpe

CANDIDATES = ["red", "blue", "light blue", "yes", "no"]


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    root = tmp_path_factory.mktemp("vqa_dataset")
    texts = [" what color is the square?", " is it red?", " object: cat dog"] + [
        " " + c for c in CANDIDATES
    ]
    build_dictionary_from_texts(texts, load_gpt2_bpe(), save_path=root / "dict.txt")
    return UnivalTokenizer.from_files(root / "dict.txt", num_codes=0, num_bins=10)


def write_tsv(path, rows):
    image = encode_image_base64(Image.new("RGB", (8, 8), (200, 10, 10)))
    path.write_text(
        "".join(
            "\t".join([r[0], "7", r[1], r[2], r[3] if len(r) > 3 else "", image]) + "\n"
            for r in rows
        )
    )
    return TSVFile(str(path), selected_cols="0,5,2,3,4")


def test_answer_field_parsing():
    assert parse_answer_confidences("0.6|!+no&&1.0|!+yes") == {"no": 0.6, "yes": 1.0}
    assert parse_answer_confidences("0.3|!+a|!+b") == {"a|!+b": 0.3}
    with pytest.raises(ValueError, match="confidence"):
        parse_answer_confidences("yes")


def test_candidates_from_pickle_and_text(tmp_path):
    (tmp_path / "a.pkl").write_bytes(pickle.dumps({"yes": 0, "no": 1, "light blue": 2}))
    (tmp_path / "a.txt").write_text("yes\nno\n\nlight blue\n")
    assert load_candidate_answers(tmp_path / "a.pkl") == ["yes", "no", "light blue"]
    assert load_candidate_answers(tmp_path / "a.txt") == ["yes", "no", "light blue"]
    (tmp_path / "empty.txt").write_text("\n")
    with pytest.raises(ValueError, match="no candidate"):
        load_candidate_answers(tmp_path / "empty.txt")


def test_prompt_types_by_hand():
    source = torch.tensor([0, 10, 11, 2])  # [BOS] q1 q2 [EOS]
    answer = torch.tensor([20, 21])
    out = prompted_sequences(source, answer, "prev_output", eos=2, pad=1)
    assert out["prev_output_tokens"].tolist() == [0, 10, 11, 20, 21]
    assert out["target"].tolist() == [1, 1, 20, 21, 2]
    assert out["decoder_prompt"].tolist() == [0, 10, 11] and out["prefix_tokens"].tolist() == [
        10,
        11,
    ]
    out = prompted_sequences(source, answer, "none", eos=2, pad=1)
    assert out["prev_output_tokens"].tolist() == [0, 20, 21] and out["target"].tolist() == [
        20,
        21,
        2,
    ]
    assert out["prefix_tokens"].tolist() == []
    out = prompted_sequences(source, answer, "src", eos=2, pad=1)
    assert out["prev_output_tokens"].tolist() == [0, 10, 11, 2, 20, 21]
    assert out["target"].tolist() == [1, 1, 1, 20, 21, 2]
    with pytest.raises(ValueError, match="prompt type"):
        prompted_sequences(source, answer, "question", eos=2, pad=1)


def test_sample_follows_the_spec(tokenizer, tmp_path):
    tsv = write_tsv(
        tmp_path / "v.tsv",
        [("42", "What  color is the Square", "0.3|!+red&&0.9|!+light blue", "cat&&dog")],
    )
    candidates = CandidateSet.from_answers(CANDIDATES, tokenizer)
    dataset = VqaGenDataset("train", tsv, tokenizer, candidates=candidates, patch_image_size=16)
    sample = dataset[0]
    question = tokenizer.encode(" what color is the square?").tolist()
    answer = tokenizer.encode(" light blue").tolist()
    assert len(answer) == 2
    assert sample["source"].tolist() == [0] + question + [2]
    assert sample["prev_output_tokens"].tolist() == [0] + question + answer
    assert sample["target"].tolist() == [1] * len(question) + answer + [2]
    assert sample["prefix_tokens"].tolist() == question
    assert sample["conf"] == 0.9 and sample["ref_dict"] == {"red": 0.3, "light blue": 0.9}
    assert sample["uniq_id"] == "42" and sample["patch_image"].shape == (3, 16, 16)
    # constraint rows: prompt rows all False; then children of [BOS], [BOS light], [BOS light blue]
    mask = sample["constraint_mask"]
    assert mask.shape == (len(sample["target"]), len(tokenizer))
    assert not mask[: len(question)].any()
    firsts = sorted({tokenizer.encode(" " + c)[0].item() for c in CANDIDATES})
    assert torch.nonzero(mask[len(question)]).flatten().tolist() == firsts
    assert torch.nonzero(mask[len(question) + 1]).flatten().tolist() == [answer[1]]
    assert torch.nonzero(mask[len(question) + 2]).flatten().tolist() == [2]
    # --add-object appends " object: cat dog" before the EOS
    with_objects = VqaGenDataset(
        "train", tsv, tokenizer, candidates=candidates, patch_image_size=16, add_object=True
    )
    objects = tokenizer.encode(" object: cat dog").tolist()
    assert with_objects[0]["source"].tolist() == [0] + question + objects + [2]


def test_answer_outside_the_candidates_is_a_bad_row(tokenizer, tmp_path):
    tsv = write_tsv(
        tmp_path / "bad.tsv",
        [("1", "is it red?", "1.0|!+purple"), ("2", "is it red?", "1.0|!+yes")],
    )
    candidates = CandidateSet.from_answers(CANDIDATES, tokenizer)
    strict = VqaGenDataset("train", tsv, tokenizer, candidates=candidates, patch_image_size=8)
    with pytest.raises(BadSampleError, match="purple"):
        strict[0]
    lenient = VqaGenDataset(
        "train", tsv, tokenizer, candidates=candidates, patch_image_size=8, skip_bad_samples=True
    )
    batch = lenient.collater([lenient[0], lenient[1]])
    assert batch["nskipped"] == 1 and batch["ref_dicts"] == [{"yes": 1.0}]
    assert [p.tolist() for p in batch["decoder_prompts"]] == [
        [0] + tokenizer.encode(" is it red?").tolist()
    ]
    assert batch["prefix_tokens"].tolist() == [tokenizer.encode(" is it red?").tolist()]
    assert batch["constraint_masks"].shape[:2] == batch["target"].shape and batch[
        "conf"
    ].tolist() == [1.0]
    # unconstrained: any answer, no masks
    free = VqaGenDataset("train", tsv, tokenizer, candidates=None, patch_image_size=8)
    assert "constraint_mask" not in free[0]
