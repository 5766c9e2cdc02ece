"""Which files a user named: media files, folders (scanned by suffix), glob patterns and TSVs
of ``media<TAB>text`` rows, in order (``unival predict``'s inputs); and drawing a box."""

from __future__ import annotations

import glob
import logging
import os
from typing import List, NamedTuple, Optional, Sequence, Tuple

from unival.data.io.image import IMAGE_PATH_SUFFIXES

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv")
AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".m4a", ".ogg", ".opus", ".aac")
#: the file suffixes a folder is scanned for, per modality
MEDIA_SUFFIXES = {"image": IMAGE_PATH_SUFFIXES, "video": VIDEO_SUFFIXES, "audio": AUDIO_SUFFIXES}

logger = logging.getLogger(__name__)


class InputItem(NamedTuple):
    """One input of ``unival predict``: the media path, its text (or None) and, for an input
    that cannot be predicted at all (a missing file, an undecodable TSV row), why not."""

    media: str
    text: Optional[str] = None
    error: Optional[str] = None


def read_tsv(path: str) -> List[InputItem]:
    """``media<TAB>text`` rows (text optional); relative paths resolved against the TSV's folder.

    Each line is decoded on its own: a line that is not UTF-8 or has an empty media field
    becomes an item with an ``error`` naming the file and line; the other lines are kept."""
    items = []
    base = os.path.dirname(os.path.abspath(path))
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            where = f"{path}:{number}"
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                items.append(
                    InputItem(
                        where,
                        None,
                        f"{where}: not UTF-8 text ({error.reason} at byte {error.start})",
                    )
                )
                continue
            if not line.strip():
                continue
            fields = line.rstrip("\n\r").split("\t")
            if not fields[0].strip():
                items.append(InputItem(where, None, f"{where}: the media path (column 1) is empty"))
                continue
            media = fields[0] if os.path.isabs(fields[0]) else os.path.join(base, fields[0])
            items.append(InputItem(media, fields[1] if len(fields) > 1 else None))
    return items


def _scan(paths: Sequence[str], suffixes: Tuple[str, ...], source: str) -> List[InputItem]:
    """The files among ``paths`` with one of ``suffixes``; says how many others it left out."""
    kept = [p for p in paths if os.path.isfile(p) and p.lower().endswith(suffixes)]
    if len(kept) < len(paths):
        logger.info(
            "%s: %d of %d entries left out (not files ending in %s)",
            source,
            len(paths) - len(kept),
            len(paths),
            ", ".join(suffixes),
        )
    return [InputItem(p) for p in kept]


def expand_inputs(
    inputs: Sequence[str], suffixes: Sequence[str] = IMAGE_PATH_SUFFIXES
) -> List[InputItem]:
    """:class:`InputItem` for files, folders, globs and TSV files, in order.

    A folder or a glob pattern contributes its files whose name ends with one of ``suffixes``
    (any case; the count of the others is logged). Anything named explicitly gets an item:
    a file as it is (its reader judges it), and a missing path, a dangling link or a folder
    without such files an item with ``error``."""
    suffixes = tuple(s.lower() for s in suffixes)
    items: List[InputItem] = []
    for given in inputs:
        if os.path.isdir(given):
            found = _scan(
                [os.path.join(given, n) for n in sorted(os.listdir(given))], suffixes, given
            )
            items += found or [
                InputItem(
                    given,
                    None,
                    (
                        f"{given} is a folder with no {'/'.join(suffixes)} files in it "
                        f"(folders are "
                        f"scanned for {', '.join(suffixes)})"
                    ),
                )
            ]
        elif os.path.isfile(given) and given.lower().endswith(".tsv"):
            items += read_tsv(given)
        elif os.path.exists(given):
            items.append(InputItem(given))
        elif os.path.islink(given):
            items.append(
                InputItem(
                    given,
                    None,
                    (f"{given} is a symbolic link to {os.readlink(given)}, which does not exist"),
                )
            )
        else:
            matches = sorted(glob.glob(given))
            if not matches:
                items.append(
                    InputItem(given, None, f"{given}: no such file, folder or matching pattern")
                )
                continue
            items += _scan(matches, suffixes, f"pattern {given}")
    return items


def draw_box(image_path: str, box: Sequence[float], out_dir: str, index: int) -> str:
    """Save ``image_path`` with ``box`` outlined in red to ``out_dir``; returns the file written."""
    from PIL import Image, ImageDraw

    os.makedirs(out_dir, exist_ok=True)
    with Image.open(image_path) as img:
        img = img.convert("RGB")
    width = max(1, round(min(img.size) / 100))
    ImageDraw.Draw(img).rectangle(
        [box[0], box[1], box[2], box[3]], outline=(255, 0, 0), width=width
    )
    stem = os.path.splitext(os.path.basename(image_path))[0]
    out_path = os.path.join(out_dir, f"{index:06d}_{stem}.png")
    img.save(out_path)
    return out_path
