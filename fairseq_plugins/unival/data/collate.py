"""The one collate of every UnIVAL dataset (docs/ARCHITECTURE.md "Sample and batch dictionaries").

Samples -> batch::

    id (B,) long; nsentences; ntokens (non-pad target tokens); nskipped; skipped (reasons)
    net_input: src_tokens (B, L), src_lengths (B,), patch_images (B, 3, H, W),
               patch_masks (B,) bool, prev_output_tokens (B, T),
               [patch_types (B,), patch_videos (B, 3, T, H, W), patch_audios (B, S)]
    target (B, T); optional conf (B,), constraint_masks (B, T, V), prefix_tokens (B, P),
    references (list of lists of str), uniq_ids (list of str)

Rows lacking a modality another row carries get zeros there (as OFA's collater does); audio
waveforms of different lengths are right-padded with zeros. Skipped samples
(``{"id", "skipped"}``) are dropped and counted; a batch left empty is ``{}`` (fairseq's
convention for "no batch").
"""

from __future__ import annotations

import logging
from typing import Sequence

import torch

from unival.data.modality import Modality

logger = logging.getLogger(__name__)

# sample key -> (net_input key, whether the last dimension may differ and is zero-padded)
_MEDIA_KEYS = {
    "patch_image": ("patch_images", False),
    "patch_video": ("patch_videos", False),
    "patch_audio": ("patch_audios", True),
}
_MEDIA_TYPES = {
    "patch_image": Modality.IMAGE,
    "patch_video": Modality.VIDEO,
    "patch_audio": Modality.AUDIO,
}


def pad_1d(values: Sequence[torch.Tensor], pad_idx: int, left_pad: bool = False) -> torch.Tensor:
    """(L_i,) tensors -> (B, max L_i), padded with ``pad_idx`` on the right (or left)."""
    size = max((v.size(0) for v in values), default=0)
    out = values[0].new_full((len(values), size), pad_idx)
    for i, v in enumerate(values):
        if left_pad:
            out[i, size - v.size(0) :] = v
        else:
            out[i, : v.size(0)] = v
    return out


def pad_2d_rows(values: Sequence[torch.Tensor], fill) -> torch.Tensor:
    """(T_i, V) tensors -> (B, max T_i, V), extra rows filled with ``fill``."""
    rows = max(v.size(0) for v in values)
    out = values[0].new_full((len(values), rows, values[0].size(1)), fill)
    for i, v in enumerate(values):
        out[i, : v.size(0)] = v
    return out


def _stack_media(samples: list[dict], key: str, pad_last_dim: bool) -> torch.Tensor:
    present = [s[key] for s in samples if s.get(key) is not None]
    reference = present[0]
    shape = list(reference.shape)
    if pad_last_dim:
        shape[-1] = max(t.shape[-1] for t in present)
    out = reference.new_zeros([len(samples)] + shape)
    for i, s in enumerate(samples):
        tensor = s.get(key)
        if tensor is None:
            continue
        if pad_last_dim:
            if tuple(tensor.shape[:-1]) != tuple(shape[:-1]):
                raise ValueError(
                    f"{key} shapes differ in the batch: {tuple(tensor.shape)} "
                    f"vs {tuple(reference.shape)}"
                )
            out[i, ..., : tensor.shape[-1]] = tensor
        else:
            if tuple(tensor.shape) != tuple(shape):
                raise ValueError(
                    f"{key} shapes differ in the batch: {tuple(tensor.shape)} "
                    f"vs {tuple(reference.shape)}"
                )
            out[i] = tensor
    return out


def _all_or_none(samples: list[dict], key: str) -> list | None:
    """``[s[key] ...]`` when every sample has ``key``, None when none has; else ValueError."""
    values = [s.get(key) for s in samples]
    present = sum(v is not None for v in values)
    if present == 0:
        return None
    if present != len(values):
        raise ValueError(
            f"{present} of {len(values)} samples carry {key!r}: a batch must be uniform in it"
        )
    return values


def _default_patch_type(sample: dict) -> int:
    for key in ("patch_video", "patch_audio"):
        if sample.get(key) is not None:
            return int(_MEDIA_TYPES[key])
    return int(Modality.IMAGE)


def collate(
    samples: Sequence[dict], pad_idx: int, eos_idx: int, left_pad_source: bool = False
) -> dict:
    """Merge samples into a batch (see the module docstring). ``eos_idx`` is accepted for
    fairseq's collater signature; sequences already carry their EOS."""
    del eos_idx
    kept = [s for s in samples if "skipped" not in s]
    skipped = [s["skipped"] for s in samples if "skipped" in s]
    if not kept:
        if skipped:
            logger.warning("every sample of a batch was skipped: %s", "; ".join(skipped))
        return {}

    src_tokens = pad_1d([s["source"] for s in kept], pad_idx, left_pad=left_pad_source)
    net_input = {
        "src_tokens": src_tokens,
        "src_lengths": torch.tensor(
            [int(s["source"].ne(pad_idx).sum()) for s in kept], dtype=torch.long
        ),
    }
    for key, (batch_key, pad_last_dim) in _MEDIA_KEYS.items():
        if any(s.get(key) is not None for s in kept):
            net_input[batch_key] = _stack_media(kept, key, pad_last_dim)
    net_input["patch_masks"] = torch.tensor(
        [bool(s.get("patch_mask", any(s.get(k) is not None for k in _MEDIA_KEYS))) for s in kept],
        dtype=torch.bool,
    )
    if any("patch_type" in s for s in kept) or any(
        s.get(k) is not None for s in kept for k in ("patch_video", "patch_audio")
    ):
        net_input["patch_types"] = torch.tensor(
            [int(s.get("patch_type", _default_patch_type(s))) for s in kept], dtype=torch.long
        )

    batch = {
        "id": torch.tensor([int(s["id"]) for s in kept], dtype=torch.long),
        "nsentences": len(kept),
        "nskipped": len(skipped),
        "skipped": skipped,
        "net_input": net_input,
    }
    targets = _all_or_none(kept, "target")
    if targets is not None:
        target = pad_1d(targets, pad_idx)
        batch["target"] = target
        batch["ntokens"] = int(target.ne(pad_idx).sum())
        net_input["prev_output_tokens"] = pad_1d([s["prev_output_tokens"] for s in kept], pad_idx)
    else:
        batch["target"] = None
        batch["ntokens"] = 0
        if all(s.get("prev_output_tokens") is not None for s in kept):
            net_input["prev_output_tokens"] = pad_1d(
                [s["prev_output_tokens"] for s in kept], pad_idx
            )

    if any("conf" in s for s in kept):
        batch["conf"] = torch.tensor([float(s.get("conf", 1.0)) for s in kept])
    constraint_masks = _all_or_none(kept, "constraint_mask")
    if constraint_masks is not None:
        # padded target rows allow everything: their loss is dropped with the pad targets
        batch["constraint_masks"] = pad_2d_rows(constraint_masks, True)
    prefix_tokens = _all_or_none(kept, "prefix_tokens")
    if prefix_tokens is not None:
        batch["prefix_tokens"] = pad_1d(prefix_tokens, pad_idx)
    if any("references" in s for s in kept):
        batch["references"] = [list(s.get("references", [])) for s in kept]
    if any("uniq_id" in s for s in kept):
        batch["uniq_ids"] = [str(s.get("uniq_id", "")) for s in kept]
    return batch
