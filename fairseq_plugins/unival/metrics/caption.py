"""Caption metrics: CIDEr-D and BLEU-4 as pure functions over plain strings.

Corpus scores (:func:`cider`, :func:`bleu4`) call pycocoevalcap's ``Cider`` and
``Bleu`` scorers. Two tokenizers are offered: ``"simple"`` (lowercase, drop
punctuation characters, split on whitespace; pure Python, fast) and ``"ptb"``
(pycocoevalcap's Stanford PTB tokenizer; needs Java, as the COCO toolkit does).

Validation during training sees the corpus one batch at a time, so it uses the
*summable* forms below; both reproduce the corpus scores exactly:

* CIDEr-D: pycocoevalcap's corpus CIDEr is the mean over images of a
  per-image score whose only corpus-wide inputs are the document frequencies
  of the reference n-grams and log(number of images). With those fixed up front
  (:class:`CiderDocumentFrequency`, built from every reference of the split),
  :func:`cider_sentence` scores one image at a time and the corpus score is
  ``sum(scores) / count``.
* BLEU-4: corpus BLEU depends only on summed n-gram statistics
  (:func:`bleu_stats`, added with :func:`add_bleu_stats`, scored with
  :func:`bleu4_from_stats`).
"""

import logging
import math
import string
from collections import Counter
from dataclasses import dataclass, field
from typing import Dict, Hashable, Iterable, List, Mapping, Sequence, Tuple

logger = logging.getLogger(__name__)

CIDER_N = 4
CIDER_SIGMA = 6.0
BLEU_N = 4
_PUNCTUATION_TABLE = str.maketrans({c: None for c in string.punctuation})
# pycocoevalcap's BLEU smoothing constants (bleu_scorer.py), kept so the
# summable form matches its corpus score to the last digit.
_BLEU_TINY = 1e-15
_BLEU_SMALL = 1e-9

Ngram = Tuple[str, ...]


def strip_punctuation(text: str) -> str:
    """Remove every ``string.punctuation`` character and collapse whitespace (no lowercasing)."""
    return " ".join(text.translate(_PUNCTUATION_TABLE).split())


def simple_tokenize(text: str) -> str:
    """Lowercase, drop punctuation characters, collapse whitespace:
    "A dog, running." -> "a dog running"."""
    return strip_punctuation(text.lower())


def tokenize_corpus(
    hyps: Mapping[Hashable, str], refs: Mapping[Hashable, Sequence[str]], tokenizer: str = "simple"
) -> Tuple[Dict[Hashable, List[str]], Dict[Hashable, List[str]]]:
    """Tokenize hypotheses and references into pycocoevalcap's ``{id: [sentence, ...]}`` form."""
    if set(hyps) != set(refs):
        missing = set(refs) ^ set(hyps)
        raise ValueError(
            f"hypotheses and references cover different ids, e.g. {sorted(map(str, missing))[:5]}"
        )
    for key, value in refs.items():
        if isinstance(value, str) or len(value) == 0:
            raise ValueError(f"references of {key!r} must be a non-empty list of strings")
    if tokenizer == "simple":
        res = {k: [simple_tokenize(v)] for k, v in hyps.items()}
        gts = {k: [simple_tokenize(r) for r in v] for k, v in refs.items()}
    elif tokenizer == "ptb":
        from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

        ptb = PTBTokenizer()
        res = ptb.tokenize({k: [{"caption": v}] for k, v in hyps.items()})
        gts = ptb.tokenize({k: [{"caption": r} for r in v] for k, v in refs.items()})
    else:
        raise ValueError(f"unknown tokenizer {tokenizer!r}: use 'simple' or 'ptb'")
    return res, gts


def cider(
    hyps: Mapping[Hashable, str], refs: Mapping[Hashable, Sequence[str]], tokenizer: str = "simple"
) -> float:
    """Corpus CIDEr-D (pycocoevalcap ``Cider``, n=4, sigma=6) of ``{id: caption}`` against
    ``{id: [refs]}``."""
    if not hyps:
        return 0.0
    from pycocoevalcap.cider.cider import Cider

    res, gts = tokenize_corpus(hyps, refs, tokenizer)
    score, _ = Cider(n=CIDER_N, sigma=CIDER_SIGMA).compute_score(gts, res)
    return float(score)


def bleu4(
    hyps: Mapping[Hashable, str], refs: Mapping[Hashable, Sequence[str]], tokenizer: str = "simple"
) -> float:
    """Corpus BLEU-4 (pycocoevalcap ``Bleu``, "closest" reference length)."""
    if not hyps:
        return 0.0
    from pycocoevalcap.bleu.bleu import Bleu

    res, gts = tokenize_corpus(hyps, refs, tokenizer)
    scores, _ = Bleu(BLEU_N).compute_score(gts, res, verbose=0)
    return float(scores[BLEU_N - 1])


# ------------------------------------------------------------------ n-grams


def ngram_counts(sentence: str, n: int = CIDER_N) -> Counter:
    """Counts of every 1..n-gram of a whitespace-tokenized sentence."""
    words = sentence.split()
    counts: Counter = Counter()
    for k in range(1, n + 1):
        for i in range(len(words) - k + 1):
            counts[tuple(words[i : i + k])] += 1
    return counts


# ------------------------------------------------------------------ CIDEr-D, one image at a time


@dataclass
class CiderDocumentFrequency:
    """Corpus statistics CIDEr-D needs: n-gram document frequencies over the references, and
    log(#images)."""

    df: Dict[Ngram, float] = field(default_factory=dict)
    log_num_images: float = 0.0

    @classmethod
    def from_references(
        cls, refs_per_image: Iterable[Sequence[str]], n: int = CIDER_N
    ) -> "CiderDocumentFrequency":
        """``refs_per_image``: one list of already-tokenized reference strings per image."""
        df: Counter = Counter()
        num_images = 0
        for refs in refs_per_image:
            num_images += 1
            df.update({g for ref in refs for g in ngram_counts(ref, n)})
        if num_images == 0:
            raise ValueError("CIDEr document frequencies need at least one image's references")
        return cls(df=dict(df), log_num_images=math.log(float(num_images)))


def _tfidf(counts: Counter, stats: CiderDocumentFrequency, n: int):
    """tf-idf vectors per n-gram order, their norms, and the sentence length pycocoevalcap uses."""
    vec: List[Dict[Ngram, float]] = [{} for _ in range(n)]
    norm = [0.0] * n
    for gram, tf in counts.items():
        weight = float(tf) * (stats.log_num_images - math.log(max(1.0, stats.df.get(gram, 0.0))))
        vec[len(gram) - 1][gram] = weight
        norm[len(gram) - 1] += weight * weight
    # pycocoevalcap counts the 2-grams as the "length" (a quirk); it equals max(words - 1, 0).
    length = sum(tf for gram, tf in counts.items() if len(gram) == 2)
    return vec, [math.sqrt(x) for x in norm], length


def cider_sentence(
    hyp: str,
    refs: Sequence[str],
    stats: CiderDocumentFrequency,
    n: int = CIDER_N,
    sigma: float = CIDER_SIGMA,
) -> float:
    """CIDEr-D of one tokenized hypothesis against its tokenized references, with corpus
    ``stats``."""
    vec_h, norm_h, len_h = _tfidf(ngram_counts(hyp, n), stats, n)
    total = [0.0] * n
    for ref in refs:
        vec_r, norm_r, len_r = _tfidf(ngram_counts(ref, n), stats, n)
        penalty = math.exp(-((len_h - len_r) ** 2) / (2 * sigma**2))
        for k in range(n):
            val = sum(
                min(w, vec_r[k].get(g, 0.0)) * vec_r[k].get(g, 0.0) for g, w in vec_h[k].items()
            )
            if norm_h[k] != 0 and norm_r[k] != 0:
                val /= norm_h[k] * norm_r[k]
            total[k] += val * penalty
    return 10.0 * (sum(total) / n) / len(refs)


# ------------------------------------------------------------------ BLEU-4 from summed statistics


def empty_bleu_stats(n: int = BLEU_N) -> Dict[str, float]:
    """Zero statistics: keys ``testlen``, ``reflen``, ``guess_k``, ``correct_k`` for k = 1..n."""
    stats = {"testlen": 0.0, "reflen": 0.0}
    for k in range(1, n + 1):
        stats[f"guess_{k}"] = 0.0
        stats[f"correct_{k}"] = 0.0
    return stats


def bleu_stats(hyp: str, refs: Sequence[str], n: int = BLEU_N) -> Dict[str, float]:
    """BLEU statistics of one tokenized hypothesis (reference length: the closest, ties to the
    shorter)."""
    words = hyp.split()
    hyp_counts = ngram_counts(hyp, n)
    max_ref_counts: Counter = Counter()
    ref_lens = []
    for ref in refs:
        ref_lens.append(len(ref.split()))
        for gram, count in ngram_counts(ref, n).items():
            max_ref_counts[gram] = max(max_ref_counts[gram], count)
    stats = empty_bleu_stats(n)
    stats["testlen"] = float(len(words))
    stats["reflen"] = float(min((abs(length - len(words)), length) for length in ref_lens)[1])
    for k in range(1, n + 1):
        stats[f"guess_{k}"] = float(max(0, len(words) - k + 1))
    for gram, count in hyp_counts.items():
        stats[f"correct_{len(gram)}"] += float(min(count, max_ref_counts.get(gram, 0)))
    return stats


def add_bleu_stats(total: Dict[str, float], other: Mapping[str, float]) -> Dict[str, float]:
    """Add ``other`` into ``total`` in place and return it."""
    for key, value in other.items():
        total[key] = total.get(key, 0.0) + value
    return total


def bleu4_from_stats(stats: Mapping[str, float], n: int = BLEU_N) -> float:
    """Corpus BLEU-n from summed :func:`bleu_stats` (same smoothing and brevity penalty as
    pycocoevalcap)."""
    score = 1.0
    for k in range(1, n + 1):
        score *= (stats[f"correct_{k}"] + _BLEU_TINY) / (stats[f"guess_{k}"] + _BLEU_SMALL)
    score = score ** (1.0 / n)
    ratio = (stats["testlen"] + _BLEU_TINY) / (stats["reflen"] + _BLEU_SMALL)
    if ratio < 1:
        score *= math.exp(1 - 1 / ratio)
    return float(score)
