"""Which files a user named: media files, folders (scanned by suffix), glob patterns and TSVs
of ``media<TAB>text`` rows, in order (``unival predict``'s inputs); and drawing a box."""
from __future__ import annotations

import glob
import os
from typing import List, Optional, Sequence, Tuple

from unival.data.io.image import IMAGE_PATH_SUFFIXES

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv")
AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".m4a", ".ogg", ".opus", ".aac")
#: the file suffixes a folder is scanned for, per modality
MEDIA_SUFFIXES = {"image": IMAGE_PATH_SUFFIXES, "video": VIDEO_SUFFIXES, "audio": AUDIO_SUFFIXES}

def read_tsv(path: str) -> List[Tuple[str, Optional[str]]]:
    """``media<TAB>text`` rows (text optional); relative paths resolved against the TSV's folder."""
    items = []
    base = os.path.dirname(os.path.abspath(path))
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            fields = line.rstrip("\n\r").split("\t")
            media = fields[0] if os.path.isabs(fields[0]) else os.path.join(base, fields[0])
            items.append((media, fields[1] if len(fields) > 1 else None))
    return items


def expand_inputs(inputs: Sequence[str], suffixes: Sequence[str] = IMAGE_PATH_SUFFIXES
                  ) -> List[Tuple[str, Optional[str]]]:
    """``(media path, text or None)`` for files, folders, globs and TSV files, in order.

    A folder contributes its files whose name ends with one of ``suffixes`` (any case)."""
    suffixes = tuple(s.lower() for s in suffixes)
    items: List[Tuple[str, Optional[str]]] = []
    for given in inputs:
        if os.path.isdir(given):
            paths = [os.path.join(given, n) for n in sorted(os.listdir(given))]
            items += [(p, None) for p in paths if os.path.isfile(p) and p.lower().endswith(suffixes)]
        elif os.path.isfile(given) and given.lower().endswith(".tsv"):
            items += read_tsv(given)
        elif os.path.exists(given):
            items.append((given, None))
        else:
            matches = sorted(glob.glob(given))
            if not matches:
                raise FileNotFoundError(f"{given}: no such file, folder or matching pattern")
            items += [(m, None) for m in matches if os.path.isfile(m)]
    return items


def draw_box(image_path: str, box: Sequence[float], out_dir: str, index: int) -> str:
    """Save ``image_path`` with ``box`` outlined in red to ``out_dir``; returns the file written."""
    from PIL import Image, ImageDraw

    os.makedirs(out_dir, exist_ok=True)
    with Image.open(image_path) as img:
        img = img.convert("RGB")
    width = max(1, round(min(img.size) / 100))
    ImageDraw.Draw(img).rectangle([box[0], box[1], box[2], box[3]], outline=(255, 0, 0), width=width)
    stem = os.path.splitext(os.path.basename(image_path))[0]
    out_path = os.path.join(out_dir, f"{index:06d}_{stem}.png")
    img.save(out_path)
    return out_path
