"""``UnivalDataset``: a fairseq dataset over one TSV file with the bad-input policy.

Subclasses implement :meth:`UnivalDataset.process_row` and decode fields through
:meth:`UnivalDataset.decode_field`, so any error decoding a field becomes a
:class:`BadSampleError` naming file, line and column. Without ``skip_bad_samples`` it is
raised; with it the sample becomes ``{"id": i, "skipped": "<file>:<line> column <c>
(<name>): <reason>"}`` (dropped and counted by :func:`unival.data.collate.collate`) and a
warning is logged.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

import numpy as np
import torch
from fairseq.data import FairseqDataset
from PIL import Image

from unival.compat import as_index
from unival.data.collate import collate
from unival.data.errors import BadSampleError
from unival.data.media import sample_rng
from unival.data.tsv import TSVFile, TSVRow
from unival.tokenizer import UnivalTokenizer

logger = logging.getLogger(__name__)

# Errors a field decoder may raise on bad input; anything else is a bug and propagates.
# PIL's DecompressionBombError (an oversized image) is neither a ValueError nor an OSError.
FIELD_ERRORS = (ValueError, OSError, KeyError, IndexError, EOFError, Image.DecompressionBombError)


class UnivalDataset(FairseqDataset):
    """Rows of ``tsv`` (this rank's slice), kept in file order (shuffling is by epoch file)."""

    def __init__(
        self,
        split: str,
        tsv: TSVFile,
        tokenizer: UnivalTokenizer,
        skip_bad_samples: bool = False,
        max_src_length: int = 128,
        max_tgt_length: int = 30,
    ):
        super().__init__()
        self.split = split
        self.tsv = tsv
        self.tokenizer = tokenizer
        self.skip_bad_samples = skip_bad_samples
        self.max_src_length = max_src_length
        self.max_tgt_length = max_tgt_length
        self.epoch = 1
        self.seed = 1  # with epoch and row: the random stream of media loading
        self.media_loader = None  # unival.data.media loader of datasets with a media column
        self.num_skipped = 0  # in this process (each DataLoader worker counts its own)
        self.bad_row_budget = None  # a BadRowBudget: stops a run where most rows are bad

    # -- fairseq dataset protocol -----------------------------------------------------------
    def __len__(self) -> int:
        return len(self.tsv)

    def __getitem__(self, index) -> dict:
        index = as_index(index)
        try:
            row = self.tsv[index]
            sample = self.process_row(index, row)
        except BadSampleError as error:
            if not self.skip_bad_samples:
                raise
            self.num_skipped += 1
            logger.warning("skipping bad sample %d: %s", index, error)
            if self.bad_row_budget is not None:
                self.bad_row_budget.record(True, str(error))
            return {"id": index, "skipped": str(error)}
        if self.bad_row_budget is not None:
            self.bad_row_budget.record(False)
        return sample

    def collater(self, samples: list[dict]) -> dict:
        return collate(samples, pad_idx=self.tokenizer.pad, eos_idx=self.tokenizer.eos)

    def num_tokens(self, index) -> int:
        """An upper-bound estimate (rows are not read to size them)."""
        return self.max_src_length + self.max_tgt_length

    def size(self, index) -> tuple[int, int]:
        return (self.max_src_length, self.max_tgt_length)

    def ordered_indices(self) -> np.ndarray:
        return np.arange(len(self), dtype=np.int64)

    def set_epoch(self, epoch: int) -> None:
        super().set_epoch(epoch)
        self.epoch = int(epoch)

    @property
    def supports_prefetch(self) -> bool:
        return False

    # -- helpers for subclasses -------------------------------------------------------------
    def process_row(self, index: int, row: TSVRow) -> dict:
        """One TSV row -> a sample dict (docs/ARCHITECTURE.md). Implemented by each task."""
        raise NotImplementedError

    @staticmethod
    def decode_field(row: TSVRow, position: int, name: str, decoder: Callable[[str], Any]) -> Any:
        """``decoder(row[position])``, turning its input errors into :class:`BadSampleError`."""
        if position >= len(row):
            raise BadSampleError(
                row.path,
                row.line,
                None,
                name,
                f"row has {len(row)} selected fields, {name} is field {position}",
            )
        try:
            return decoder(row[position])
        except BadSampleError:
            raise
        except FIELD_ERRORS as error:
            raise row.error(position, str(error), name) from error

    def load_media(self, row: TSVRow, position: int, index: int) -> dict:
        """The ``patch_*`` keys of field ``position`` through ``self.media_loader``
        (:mod:`unival.data.media`), with the row's random stream of this epoch."""
        loader = self.media_loader
        if loader is None:
            raise AttributeError(f"{type(self).__name__} has no media_loader")
        rng = sample_rng(self.seed, self.epoch, index)
        return self.decode_field(
            row,
            position,
            loader.modality.name.lower(),
            lambda field: loader.load(field, self.split == "train", rng),
        )

    def encode_text(self, text: str, max_length: int | None = None) -> torch.LongTensor:
        """BPE ids of ``text`` (no BOS/EOS), truncated to ``max_length`` tokens."""
        return self.tokenizer.encode(text, max_length=max_length)

    def make_sequences(self, prompt: str, answer: str) -> dict:
        """source = [BOS] prompt [EOS]; target = answer [EOS]; prev = [BOS] answer
        (OFA's layout)."""
        bos = torch.tensor([self.tokenizer.bos])
        eos = torch.tensor([self.tokenizer.eos])
        prompt_ids = self.encode_text(prompt, self.max_src_length)
        answer_ids = self.encode_text(answer)
        return {
            "source": torch.cat([bos, prompt_ids, eos]),
            "target": torch.cat([answer_ids, eos]),
            "prev_output_tokens": torch.cat([bos, answer_ids]),
        }
