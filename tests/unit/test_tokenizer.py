"""Unified vocabulary: the original ids with BART's dict, dictionaries built from text,
boxes <-> bins."""

import json
import random

import pytest
import torch

from unival.tokenizer import (
    UnivalTokenizer,
    build_dictionary_from_texts,
    default_bpe_files,
    load_gpt2_bpe,
)


@pytest.fixture(scope="module")
def bart_tokenizer(bart_dict_path):
    if not bart_dict_path.is_file():
        pytest.skip(f"{bart_dict_path} absent")
    return UnivalTokenizer.from_files(bart_dict_path)


@pytest.fixture(scope="module")
def gpt2_ids():
    """Independent route to GPT-2 ids: look the byte-level words up in encoder.json."""
    with open(default_bpe_files()[0]) as f:
        encoder = json.load(f)
    return lambda word: encoder[word.replace(" ", "\u0120")]


def test_bart_vocabulary_layout(bart_tokenizer):
    d = bart_tokenizer.dictionary
    assert len(d) == 59457
    assert (bart_tokenizer.bos, bart_tokenizer.pad, bart_tokenizer.eos, bart_tokenizer.unk) == (
        0,
        1,
        2,
        3,
    )
    assert d.index("<mask>") == 50264 == bart_tokenizer.mask
    assert d.index("<code_0>") == 50265 and d.index("<code_8191>") == 58456
    assert d.index("<bin_0>") == 58457 and d.index("<bin_999>") == 59456
    assert bart_tokenizer.code_index(8191) == 58456


def test_original_example_ids(bart_tokenizer):
    assert bart_tokenizer.bpe.encode(" what does the image describe?") == [
        644,
        857,
        262,
        2939,
        6901,
        30,
    ]
    ids = bart_tokenizer.encode(" what does the image describe?")
    assert ids.dtype == torch.long
    assert ids.tolist() == [99, 473, 5, 2274, 6190, 116]
    assert bart_tokenizer.encode(" yes").tolist() == [4420]
    assert bart_tokenizer.encode(" no").tolist() == [117]
    assert bart_tokenizer.encode(" maybe").tolist() == [2085]
    assert bart_tokenizer.encode(" yes", add_bos=True, add_eos=True).tolist() == [0, 4420, 2]


def test_encode_decode_round_trip(bart_tokenizer):
    text = "a big red circle left of a small blue square, 3 times!"
    ids = bart_tokenizer.encode(" " + text, add_bos=True, add_eos=True)
    padded = torch.cat([ids, torch.tensor([1, 1])])
    assert bart_tokenizer.decode(padded) == text
    assert (
        bart_tokenizer.encode(" " + text, max_length=2).tolist()
        == bart_tokenizer.encode(" " + text).tolist()[:2]
    )


def test_box_quantisation_by_hand(bart_tokenizer):
    # 256/512*999 = 499.5 -> 500 (round half to even); 100/512*999 = 195.117 -> 195
    ids = bart_tokenizer.box_to_tokens((0, 256, 512, 100))
    assert ids.tolist() == [58457, 58457 + 500, 58457 + 999, 58457 + 195]
    assert [bart_tokenizer.dictionary[i] for i in ids] == [
        "<bin_0>",
        "<bin_500>",
        "<bin_999>",
        "<bin_195>",
    ]
    box = bart_tokenizer.tokens_to_box(ids)
    assert box == pytest.approx((0.0, 500 / 999 * 512, 512.0, 195 / 999 * 512))
    assert bart_tokenizer.bin_token(7) == "<bin_7>"
    assert bart_tokenizer.bin_index(58457 + 7) == 7


def test_box_round_trip_within_half_a_bin(bart_tokenizer):
    rng = random.Random(0)
    half_bin = 0.5 * 512 / 999
    for _ in range(200):
        box = [rng.uniform(0, 512) for _ in range(4)]
        back = bart_tokenizer.tokens_to_box(bart_tokenizer.box_to_tokens(box))
        assert all(abs(a - b) <= half_bin + 1e-9 for a, b in zip(box, back))
    # another image size scales the bins
    back = bart_tokenizer.tokens_to_box(bart_tokenizer.box_to_tokens((10, 20, 30, 40), 64), 64)
    assert back == pytest.approx((10, 20, 30, 40), abs=0.5 * 64 / 999)


def test_box_errors(bart_tokenizer):
    with pytest.raises(ValueError):
        bart_tokenizer.box_to_tokens((0, 0, 600, 10))
    with pytest.raises(ValueError):
        bart_tokenizer.bin_index(5)  # a text token
    with pytest.raises(ValueError):
        bart_tokenizer.tokens_to_box([58457, 58458])


def test_tokenizer_on_dictionary_built_from_text(tmp_path, gpt2_ids):
    bpe = load_gpt2_bpe()
    texts = [" a red", " a blue", " a red"]
    dict_path = tmp_path / "dict.txt"
    base = build_dictionary_from_texts(texts, bpe, save_path=dict_path)
    # frequency order: " a" x3, " red" x2, " blue" x1, then padding to a multiple of 8
    lines = dict_path.read_text().splitlines()
    assert lines == [
        f"{gpt2_ids(' a')} 3",
        f"{gpt2_ids(' red')} 2",
        f"{gpt2_ids(' blue')} 1",
        "madeupword0000 0",
    ]
    assert len(base) == 8

    tok = UnivalTokenizer.from_files(dict_path, num_codes=4, num_bins=10)
    assert len(tok) == 8 + 1 + 4 + 10
    assert tok.mask == 8 and tok.code_index(0) == 9 and tok.dictionary.index("<bin_0>") == 13
    assert tok.encode(" a blue red").tolist() == [4, 6, 5]
    assert tok.decode(torch.tensor([0, 4, 6, 5, 2])) == "a blue red"
    assert tok.encode(" green").tolist() == [tok.unk]
    # boxes with 10 bins: 32/64*9 = 4.5 -> 4 (half to even)
    assert tok.box_to_tokens((0, 32, 64, 64), max_image_size=64).tolist() == [13, 17, 22, 22]


def test_tokenizer_pickles_for_dataloader_workers(bart_tokenizer):
    import pickle

    clone = pickle.loads(pickle.dumps(bart_tokenizer))
    text = " a small green triangle above a big yellow square"
    assert clone.encode(text).tolist() == bart_tokenizer.encode(text).tolist()
    assert clone.decode(clone.encode(text)) == text.strip()
    assert len(clone) == 59457 and clone.bin_offset == 58457


def test_repeated_texts_come_from_the_cache_bounded_and_unchanged(bart_tokenizer, monkeypatch):
    import unival.tokenizer as tokenizer_module

    tok = UnivalTokenizer(bart_tokenizer.dictionary, bart_tokenizer.bpe, 8192, 1000)
    calls = []
    encode = tok.bpe.encode
    monkeypatch.setattr(
        tok, "bpe", type("Spy", (), {"encode": lambda _, t: calls.append(t) or encode(t)})()
    )
    monkeypatch.setattr(tokenizer_module, "TEXT_CACHE_SIZE", 2)
    text = " what does the image describe?"
    first = tok.encode(text, add_bos=True, add_eos=True).tolist()
    again = tok.encode(text, add_bos=True, add_eos=True).tolist()
    assert first == again == [0, 99, 473, 5, 2274, 6190, 116, 2] and calls == [text]
    assert tok.encode(text, max_length=2).tolist() == [99, 473]  # truncated, cache intact
    assert tok.encode(text).tolist() == [99, 473, 5, 2274, 6190, 116]
    tok.encode(" yes"), tok.encode(" no")  # the cache holds 2 texts: the first one goes
    assert tok.encode(text).tolist() == [99, 473, 5, 2274, 6190, 116]
    assert calls == [text, " yes", " no", text]
    monkeypatch.setattr(tokenizer_module, "TEXT_CACHE_SIZE", 0)  # benchmarks' plain path
    tok._ids_of_text.clear()
    assert tok.encode(" yes").tolist() == tok.encode(" yes").tolist() == [4420]
    assert calls[-2:] == [" yes", " yes"] and not tok._ids_of_text
