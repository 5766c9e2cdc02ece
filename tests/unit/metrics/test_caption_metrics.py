"""Caption metrics on cases small enough to compute by hand, and the summable forms vs
pycocoevalcap."""

import math
import random
import shutil

import pytest

from unival.metrics.caption import (
    CiderDocumentFrequency,
    add_bleu_stats,
    bleu4,
    bleu4_from_stats,
    bleu_stats,
    cider,
    cider_sentence,
    empty_bleu_stats,
    simple_tokenize,
    strip_punctuation,
)


def test_strip_punctuation_keeps_case_and_collapses_spaces():
    assert strip_punctuation("A dog , running.") == "A dog running"
    assert strip_punctuation("the man's hat-stand!") == "the mans hatstand"
    assert simple_tokenize("  A Dog,  RUNNING. ") == "a dog running"


def test_bleu4_identical_is_one():
    assert bleu4(
        {1: "a man rides a brown horse"}, {1: ["a man rides a brown horse"]}
    ) == pytest.approx(1.0)


def test_bleu4_precisions_by_hand():
    # 1..4-gram precisions 4/5, 3/4, 2/3, 1/2 -> geometric mean of their product 0.2; equal lengths
    score = bleu4({"x": "a b c d e"}, {"x": ["a b c d f"]})
    assert score == pytest.approx(0.2**0.25, rel=1e-6)


def test_bleu4_brevity_penalty_and_closest_reference():
    # all precisions 1, hypothesis 4 words vs reference 6 -> BP = exp(1 - 6/4)
    assert bleu4({0: "a b c d"}, {0: ["a b c d e f"]}) == pytest.approx(math.exp(-0.5), rel=1e-6)
    # closest reference length: 3 and 5 are equally close to 4, the shorter (3) wins -> no penalty
    assert bleu4({0: "a b c d"}, {0: ["a b c d e", "a b c"]}) == pytest.approx(1.0)


def test_cider_by_hand():
    hyps = {1: "a b", 2: "c"}
    refs = {1: ["a b"], 2: ["c d"]}
    # every n-gram has document frequency 1 of 2 images: idf = ln 2 throughout.
    # image 1: identical 1- and 2-gram vectors (cosine 1), no 3/4-grams: 10 * (1 + 1) / 4 = 5
    # image 2: unigram cosine 1/sqrt(2); lengths (bigram counts 0 vs 1) differ by 1 -> exp(-1/72)
    image2 = 10 * (1 / math.sqrt(2)) * math.exp(-1 / 72) / 4
    assert cider(hyps, refs) == pytest.approx((5 + image2) / 2, rel=1e-9)


def test_corpus_functions_reject_mismatched_ids():
    with pytest.raises(ValueError):
        cider({1: "a"}, {2: ["a"]})
    with pytest.raises(ValueError):
        bleu4({1: "a"}, {1: "a"})  # references must be a list


def _random_corpus(seed=0, size=40):
    rng = random.Random(seed)
    words = "a dog cat man on the grass red ball plays with two".split()
    hyps, refs = {}, {}
    for i in range(size):
        hyps[i] = " ".join(rng.choices(words, k=rng.randint(1, 9)))
        refs[i] = [
            " ".join(rng.choices(words, k=rng.randint(2, 9))) for _ in range(rng.randint(1, 5))
        ]
    return hyps, refs


def test_per_image_cider_with_corpus_frequencies_equals_pycocoevalcap():
    hyps, refs = _random_corpus()
    stats = CiderDocumentFrequency.from_references(refs.values())
    # the corpus is split into "batches"; the sum of per-image scores is all that crosses them
    total = sum(cider_sentence(hyps[i], refs[i], stats) for i in hyps)
    assert total / len(hyps) == pytest.approx(cider(hyps, refs), rel=1e-9)
    assert total > 0


def test_summed_bleu_stats_equal_pycocoevalcap():
    hyps, refs = _random_corpus(seed=1)
    hyps = {i: h + " a dog on the grass" for i, h in hyps.items()}  # make 4-gram matches likely
    refs = {i: [r + " a dog on the grass" for r in rs] for i, rs in refs.items()}
    total = empty_bleu_stats()
    for i in hyps:
        add_bleu_stats(total, bleu_stats(hyps[i], refs[i]))
    expected = bleu4(hyps, refs)
    assert expected > 0.1
    assert bleu4_from_stats(total) == pytest.approx(expected, rel=1e-9)


@pytest.mark.skipif(shutil.which("java") is None, reason="the PTB tokenizer needs Java")
def test_ptb_tokenizer_lowercases_and_drops_punctuation():
    hyps = {7: "A man rides a horse."}
    refs = {7: ["a man rides a horse"]}
    assert bleu4(hyps, refs, tokenizer="ptb") == pytest.approx(1.0)
