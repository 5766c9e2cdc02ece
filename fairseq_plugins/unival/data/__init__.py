"""TSV reading, media decoding, transforms, the one ``collate`` and the per-task datasets."""

from unival.data.base_dataset import UnivalDataset
from unival.data.caption_dataset import CAPTION_PROMPT, CaptionDataset
from unival.data.collate import collate
from unival.data.errors import BadSampleError
from unival.data.schemas import SCHEMAS, TSVSchema, get_schema
from unival.data.text import pre_caption, pre_question, strip_punctuation
from unival.data.tsv import TSVFile, TSVRow

__all__ = [
    "BadSampleError",
    "CAPTION_PROMPT",
    "CaptionDataset",
    "SCHEMAS",
    "TSVFile",
    "TSVRow",
    "TSVSchema",
    "UnivalDataset",
    "collate",
    "get_schema",
    "pre_caption",
    "pre_question",
    "strip_punctuation",
]
