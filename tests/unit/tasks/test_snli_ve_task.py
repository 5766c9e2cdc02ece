"""SnliVeTask / SnliVeDataset: labels, prompts, constraint masks, three-way all-candidate
answers."""

import pytest
import torch
from fairseq.tasks import TASK_REGISTRY
from PIL import Image

from unival.data.errors import BadSampleError
from unival.data.io.image import encode_image_base64
from unival.data.snli_ve_dataset import label_answer
from unival.models.builder import build_model
from unival.tasks.snli_ve import SnliVeConfig, SnliVeTask
from unival.tokenizer import build_dictionary_from_texts, load_gpt2_bpe

ROWS = [
    ("u0", "A red square.", "a square on white", "entailment"),
    ("u1", "The square is blue", "a square", "contradiction"),
    ("u2", "The square is heavy", "a square", "neutral"),
    ("u3", "The square is heavy", "a square", "unsure"),
]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("snli_ve_task")
    texts = [
        ' does the image describe " a red square. "?',
        ' can image and text1 " a square on white " imply text2',
        " the square is blue heavy",
        " yes",
        " no",
        " maybe",
    ]
    build_dictionary_from_texts(texts, load_gpt2_bpe(), save_path=root / "dict.txt")
    image = encode_image_base64(Image.new("RGB", (8, 8), (200, 10, 10)))
    (root / "valid.tsv").write_text(
        "".join(f"{u}\t3\t{image}\t{h}\t{p}\t{lab}\n" for u, h, p, lab in ROWS)
    )
    return root


def make_task(data_dir, **overrides):
    overrides.setdefault("skip_bad_samples", True)
    cfg = SnliVeConfig(
        data=str(data_dir / "valid.tsv"),
        selected_cols="0,2,3,4,5",
        patch_image_size=8,
        code_dict_size=0,
        num_bins=10,
        **overrides,
    )
    task = SnliVeTask.setup_task(cfg)
    task.load_dataset("valid")
    return task


def test_registered_with_three_candidates_and_snli_score():
    assert TASK_REGISTRY["snli_ve"] is SnliVeTask
    assert SnliVeConfig().ans2label_dict == '{"no": 0, "yes": 1, "maybe": 2}'
    assert SnliVeTask.metric_name == "snli_score"
    assert [label_answer(x) for x in ("contradiction", "entailment", "neutral")] == [
        "no",
        "yes",
        "maybe",
    ]
    with pytest.raises(ValueError, match="unknown SNLI-VE label"):
        label_answer("unsure")


def test_samples_use_the_hypothesis_prompt_and_trie_masks(data_dir):
    task = make_task(data_dir)
    tok = task.tokenizer
    assert task.candidates.answers == ["no", "yes", "maybe"] and task.inference_type == "allcand"
    sample = task.dataset("valid")[0]
    prompt = tok.encode(' does the image describe " a red square. "?').tolist()
    assert sample["source"].tolist() == [tok.bos] + prompt + [tok.eos]
    yes = tok.encode(" yes").tolist()
    assert sample["prev_output_tokens"].tolist() == [tok.bos] + prompt + yes
    assert sample["target"].tolist() == [tok.pad] * len(prompt) + yes + [tok.eos]
    assert sample["ref_dict"] == {"yes": 1.0} and "conf" not in sample
    first = sorted(tok.encode(" " + a)[0].item() for a in ("no", "yes", "maybe"))
    assert torch.nonzero(sample["constraint_mask"][len(prompt)]).flatten().tolist() == first
    captioned = make_task(data_dir, add_caption=True).dataset("valid")[0]
    premise_prompt = tok.encode(
        ' can image and text1 " a square on white " imply text2 " a red square. "?'
    ).tolist()
    assert captioned["source"].tolist() == [tok.bos] + premise_prompt + [tok.eos]
    with pytest.raises(BadSampleError, match="label"):
        make_task(data_dir, skip_bad_samples=False).dataset("valid")[3]


def test_all_candidate_answers_are_always_one_of_three_and_scored_as_accuracy(data_dir):
    task = make_task(data_dir)
    dataset = task.dataset("valid")
    batch = dataset.collater([dataset[i] for i in range(4)])
    assert batch["nskipped"] == 1 and batch["ref_dicts"] == [
        {"yes": 1.0},
        {"no": 1.0},
        {"maybe": 1.0},
    ]
    dictionary = task.target_dictionary
    for seed in range(3):  # a real tiny model with random weights
        torch.manual_seed(seed)
        model = build_model("unival_tiny", len(dictionary), dictionary=dictionary).eval()
        answers = task.predict_answers([model], batch)
        assert len(answers) == 3 and set(answers) <= {"no", "yes", "maybe"}
        records, scores = task.evaluate_split([model], None, [batch])
        expected = sum(a == next(iter(r)) for a, r in zip(answers, batch["ref_dicts"])) / 3
        assert scores["snli_score"] == pytest.approx(expected) and scores["nskipped"] == 1
        assert [r["label"] for r in records] == ["yes", "no", "maybe"]
        assert [r["correct"] for r in records] == [
            a == r["label"] for a, r in zip(answers, records)
        ]
