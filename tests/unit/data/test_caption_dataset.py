"""CaptionDataset on tiny TSVs with real PNG images (BART dictionary: token ids known)."""

import pickle

import pytest
import torch
from PIL import Image

from unival.data.caption_dataset import CaptionDataset
from unival.data.errors import BadSampleError
from unival.data.io.image import encode_image_base64
from unival.data.tsv import TSVFile
from unival.tokenizer import UnivalTokenizer

PROMPT_IDS = [0, 99, 473, 5, 2274, 6190, 116, 2]  # [BOS] " what does the image describe?" [EOS]
YES, NO, MAYBE = 4420, 117, 2085


@pytest.fixture(scope="module")
def tokenizer(bart_dict_path):
    if not bart_dict_path.is_file():
        pytest.skip(f"{bart_dict_path} absent")
    return UnivalTokenizer.from_files(bart_dict_path)


def _b64(color):
    return encode_image_base64(Image.new("RGB", (12, 10), color))


def _write(path, rows):
    path.write_text("".join("\t".join(r) + "\n" for r in rows))
    return path


ROWS = [
    ["u0", "100", "yes, maybe no!", "obj", _b64((255, 0, 0))],
    ["u1", "101", "no&&maybe.&&YES", "obj", _b64((0, 255, 0))],
    ["u2", "102", "yes maybe no yes", "obj", "%%%not-base64%%%"],
]


def _dataset(tmp_path, tokenizer, split="train", cols="0,4,2", **kwargs):
    tsv = TSVFile(_write(tmp_path / f"{split}.tsv", ROWS), selected_cols=cols, expected_columns=5)
    return CaptionDataset(split, tsv, tokenizer, patch_image_size=16, **kwargs)


def test_train_sample(tmp_path, tokenizer):
    ds = _dataset(tmp_path, tokenizer)
    s = ds[0]
    assert s["id"] == 0 and s["uniq_id"] == "u0"
    assert s["source"].tolist() == PROMPT_IDS
    assert s["target"].tolist() == [YES, MAYBE, NO, 2]  # punctuation stripped
    assert s["prev_output_tokens"].tolist() == [0, YES, MAYBE, NO]
    assert s["patch_image"].shape == (3, 16, 16)
    assert torch.allclose(s["patch_image"][0], torch.ones(16, 16))  # red: (1 - .5) / .5
    assert torch.allclose(s["patch_image"][1:], -torch.ones(2, 16, 16))
    assert bool(s["patch_mask"]) and "references" not in s


def test_train_target_truncated_to_max_words(tmp_path, tokenizer):
    ds = _dataset(tmp_path, tokenizer, max_tgt_length=2)
    assert ds[0]["target"].tolist() == [YES, MAYBE, 2]


def test_eval_keeps_all_references(tmp_path, tokenizer):
    ds = _dataset(tmp_path, tokenizer, split="valid", cols="1,4,2")
    s = ds[1]
    assert s["uniq_id"] == "101"
    assert s["references"] == ["no", "maybe", "YES"]
    assert s["target"].tolist() == [NO, 2]


def test_collater_batches_samples(tmp_path, tokenizer):
    ds = _dataset(tmp_path, tokenizer, split="valid", cols="1,4,2")
    batch = ds.collater([ds[0], ds[1]])
    assert batch["net_input"]["src_tokens"].tolist() == [PROMPT_IDS, PROMPT_IDS]
    assert batch["target"].tolist() == [[YES, MAYBE, NO, 2], [NO, 2, 1, 1]]
    assert batch["ntokens"] == 6
    assert batch["net_input"]["patch_images"].shape == (2, 3, 16, 16)
    assert batch["references"] == [["yes maybe no"], ["no", "maybe", "YES"]]
    assert batch["uniq_ids"] == ["100", "101"]


def test_bad_base64_names_file_line_column(tmp_path, tokenizer):
    ds = _dataset(tmp_path, tokenizer)
    with pytest.raises(BadSampleError) as info:
        ds[2]
    err = info.value
    assert (err.line, err.column, err.column_name) == (3, 4, "image")
    assert "train.tsv:3 column 4 (image): undecodable base64" in str(err)


def test_skip_bad_samples_counts_them(tmp_path, tokenizer, caplog):
    ds = _dataset(tmp_path, tokenizer, skip_bad_samples=True)
    with caplog.at_level("WARNING"):
        samples = [ds[i] for i in range(3)]
    assert samples[2] == {"id": 2, "skipped": samples[2]["skipped"]}
    assert "train.tsv:3 column 4 (image)" in samples[2]["skipped"]
    assert ds.num_skipped == 1 and "skipping bad sample 2" in caplog.text
    batch = ds.collater(samples)
    assert batch["nskipped"] == 1 and batch["nsentences"] == 2 and batch["id"].tolist() == [0, 1]


def test_wrong_column_count_is_a_bad_sample(tmp_path, tokenizer):
    path = _write(tmp_path / "train.tsv", ROWS[:1] + [["u9", "only", "three"]])
    ds = CaptionDataset(
        "train",
        TSVFile(path, "0,4,2", expected_columns=5),
        tokenizer,
        patch_image_size=8,
        skip_bad_samples=True,
    )
    assert "train.tsv:2" in ds[1]["skipped"] and "found 3" in ds[1]["skipped"]


def test_images_from_a_directory(tmp_path, tokenizer):
    Image.new("RGB", (9, 9), (0, 0, 255)).save(tmp_path / "im0.jpg")
    path = _write(tmp_path / "train.tsv", [["u0", "0", "no", "obj", "im0.jpg"]])
    ds = CaptionDataset(
        "train", TSVFile(path, "0,4,2"), tokenizer, patch_image_size=8, image_dir=tmp_path
    )
    # JPEG is lossy: blue channel near +1, red near -1
    image = ds[0]["patch_image"]
    assert image[2].mean() > 0.9 and image[0].mean() < -0.9


def test_dataset_protocol_and_pickling(tmp_path, tokenizer):
    import numpy as np

    ds = _dataset(tmp_path, tokenizer)
    assert len(ds) == 3
    assert ds.ordered_indices().tolist() == [0, 1, 2]
    assert ds[np.int64(1)]["id"] == 1  # fairseq passes numpy indices
    ds.set_epoch(3)
    assert ds.epoch == 3
    clone = pickle.loads(pickle.dumps(ds))
    assert clone[0]["target"].tolist() == [YES, MAYBE, NO, 2]
