"""Video files -> sampled uint8 frames with PyAV (UnIVAL's frame sampling).

:func:`sample_frame_indices` is the original code's sampler (decord-era ``get_frame_indices``);
:func:`read_video_frames` opens a file, learns every frame's presentation timestamp from the
demuxer (no decoding), samples indices and decodes only what those frames need: it seeks
to the key frame before the next wanted frame when that skips at least ``SEEK_MIN_SKIP``
frames, and decodes forward otherwise (``method="linear"`` decodes from the start). Frames are
found by timestamp, so variable frame rates work; the display-matrix rotation is applied.
Every failure to read becomes ``ValueError`` with the reason (the dataset layer adds
file/line/column).
"""

from __future__ import annotations

import bisect
import contextlib
import logging
import os
from dataclasses import dataclass

import av
import numpy as np
import torch

logger = logging.getLogger(__name__)

SAMPLINGS = ("rand", "middle", "uniform")
METHODS = ("seek", "linear")
# a seek (decoder flush + restart at a key frame) pays off only when it skips this many frames
SEEK_MIN_SKIP = 8
# FFmpeg's decoder threading ("AUTO", "FRAME", "SLICE"); None: one thread per decoder, the
# default: loader workers already decode in parallel, and on short clips FFmpeg's threads
# cost more than they save (benchmarks/bench_video_step.py: 2.5 against 4.3 ms per toy clip)
FFMPEG_THREAD_TYPE = None


# ---------------------------------------------------------------------------------------
# frame index sampling
# ---------------------------------------------------------------------------------------
def sample_frame_indices(
    num_available: int,
    num_frames: int,
    sampling: str = "rand",
    rng: np.random.Generator | None = None,
) -> list[int]:
    """``num_frames`` indices into a video of ``num_available`` frames (the original "rand"
    sampler).

    The video is cut at ``linspace(0, n, k + 1).astype(int)`` with ``k = min(T, n)``.
    ``"rand"`` picks uniformly in ``range(a, b - 1)`` per interval ``[a, b)`` (the reference
    never picks an interval's last frame); if any such range is empty it falls back to
    ``k`` distinct random frames, sorted. ``"middle"`` takes ``(a + b - 1) // 2``;
    ``"uniform"`` rounds ``linspace(0, n - 1, k)``. Fewer than ``T`` indices are padded with
    the last one. ``rng`` (numpy ``Generator``) drives ``"rand"``.
    """
    if num_available <= 0:
        raise ValueError("the video has no frames")
    if num_frames <= 0:
        raise ValueError(f"num_frames must be positive, got {num_frames}")
    if sampling not in SAMPLINGS:
        raise ValueError(f"unknown frame sampling {sampling!r} (one of {SAMPLINGS})")
    count = min(num_frames, num_available)
    bounds = np.linspace(0, num_available, count + 1).astype(int)
    intervals = list(zip(bounds[:-1].tolist(), bounds[1:].tolist()))
    if sampling == "rand":
        rng = rng if rng is not None else np.random.default_rng()
        if all(b - 1 > a for a, b in intervals):
            indices = [int(rng.integers(a, b - 1)) for a, b in intervals]
        else:
            indices = sorted(int(i) for i in rng.permutation(num_available)[:count])
    elif sampling == "middle":
        indices = [(a + b - 1) // 2 for a, b in intervals]
    else:
        indices = np.round(np.linspace(0, num_available - 1, count)).astype(int).tolist()
    return indices + [indices[-1]] * (num_frames - len(indices))


# ---------------------------------------------------------------------------------------
# container access
# ---------------------------------------------------------------------------------------
@dataclass
class VideoIndex:
    """What the demuxer says about a video stream, without decoding.

    ``pts``: every frame's presentation timestamp (stream time base), sorted;
    ``keyframe_pts``: the key frames' timestamps, sorted.
    """

    pts: list[int]
    keyframe_pts: list[int]

    @property
    def num_frames(self) -> int:
        return len(self.pts)


def _open(path: str | os.PathLike):
    """Open ``path`` and return ``(container, video_stream)``; ValueError otherwise."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"video file not found: {path}")
    try:
        container = av.open(path, mode="r")
    except (av.FFmpegError, OSError, UnicodeDecodeError) as error:
        raise ValueError(f"file {path} is not a readable video ({error})") from None
    if not container.streams.video:
        container.close()
        raise ValueError(f"file {path} has no video stream")
    return container, container.streams.video[0]


@contextlib.contextmanager
def _opened(path: str | os.PathLike):
    """``(container, video_stream)`` of ``path``, decoding as ``FFMPEG_THREAD_TYPE`` says."""
    container, stream = _open(path)
    try:
        if FFMPEG_THREAD_TYPE is not None:
            stream.thread_type = FFMPEG_THREAD_TYPE
        yield container, stream
    finally:
        container.close()


def index_stream(container, stream) -> VideoIndex | None:
    """Timestamps of every frame from the demuxed packets; ``None`` when packets lack them."""
    pts, keyframes = [], []
    for packet in container.demux(stream):
        if packet.size == 0:  # the flush packet at the end of the stream
            continue
        if packet.pts is None:
            return None
        pts.append(packet.pts)
        if packet.is_keyframe:
            keyframes.append(packet.pts)
    pts.sort()
    keyframes.sort()
    if not keyframes and pts:  # a demuxer that does not flag key frames: start at 0
        keyframes = [pts[0]]
    return VideoIndex(pts, keyframes)


def frame_to_array(frame, size: tuple[int, int] | None = None) -> np.ndarray:
    """Decoded frame -> (H, W, 3) uint8 RGB, rotated as its display matrix says.

    ``size`` = (width, height) reformats first (streams whose size changes mid-way).
    """
    if size is not None and (frame.width, frame.height) != size:
        array = frame.to_ndarray(format="rgb24", width=size[0], height=size[1])
    else:
        array = frame.to_ndarray(format="rgb24")
    rotation = getattr(frame, "rotation", 0) or 0
    turns = int(round(rotation / 90.0)) % 4  # counter-clockwise quarter turns
    if turns:
        array = np.rot90(array, k=turns, axes=(0, 1))
    return np.ascontiguousarray(array)


def _assign(targets: list[int], frames_by_target: dict, frame, next_target: int) -> int:
    """Give ``frame`` to every pending target its pts has reached; returns the new cursor."""
    while next_target < len(targets) and targets[next_target] <= frame.pts:
        frames_by_target[targets[next_target]] = frame
        next_target += 1
    return next_target


def _decode_linear(path: str | os.PathLike, targets: list[int]) -> dict:
    """Decode ``path`` from its start (a fresh open: some inputs cannot seek); each target
    gets the first frame with ``pts >= target`` (the last frame for targets past the end)."""
    found: dict = {}
    cursor, last = 0, None
    with _opened(path) as (container, stream):
        for frame in container.decode(stream):
            if frame.pts is None:
                continue
            last = frame
            cursor = _assign(targets, found, frame, cursor)
            if cursor == len(targets):
                break
    if last is None:
        raise ValueError("no frame could be decoded")
    for target in targets[cursor:]:
        found[target] = last
    return found


def _decode_seeking(
    path: str | os.PathLike,
    container,
    stream,
    targets: list[int],
    index: VideoIndex,
    min_skip: int | None = None,
) -> dict:
    """Same result as :func:`_decode_linear`, but jumps to the key frame before the next
    target whenever that skips at least ``min_skip`` frames (default
    :data:`SEEK_MIN_SKIP`) past the last decoded one."""
    min_skip = SEEK_MIN_SKIP if min_skip is None else min_skip
    keyframes, pts = index.keyframe_pts, index.pts
    found: dict = {}
    cursor, last, frames, just_seeked = 0, None, None, False
    while cursor < len(targets):
        target = targets[cursor]
        key = keyframes[max(0, bisect.bisect_right(keyframes, target) - 1)]
        if frames is None or (
            last is not None
            and key > last.pts
            and bisect.bisect_left(pts, key) - bisect.bisect_right(pts, last.pts) >= min_skip
        ):
            try:
                container.seek(key, stream=stream, backward=True)
            except av.FFmpegError as error:  # an input that cannot seek
                logger.debug("cannot seek in %s (%s): decoding linearly", path, error)
                return _decode_linear(path, targets)
            frames, just_seeked = container.decode(stream), True
        frame = next(frames, None)
        if frame is None:  # end of stream
            break
        if frame.pts is None:
            continue
        if just_seeked and frame.pts > target:
            logger.debug("seek to %d landed at %d: decoding linearly", key, frame.pts)
            return _decode_linear(path, targets)
        just_seeked, last = False, frame
        cursor = _assign(targets, found, frame, cursor)
    if last is None:
        raise ValueError("no frame could be decoded")
    for target in targets[cursor:]:
        found[target] = last
    return found


def _count_and_decode_without_pts(path, num_frames, sampling, rng) -> list:
    """Fallback for streams whose packets carry no timestamps (raw elementary streams):
    count the decoded frames, then decode again and pick by position."""
    with _opened(path) as (container, stream):
        total = sum(1 for _ in container.decode(stream))
    indices = sample_frame_indices(total, num_frames, sampling, rng)
    wanted, by_index = set(indices), {}
    with _opened(path) as (container, stream):
        for i, frame in enumerate(container.decode(stream)):
            if i in wanted:
                by_index[i] = frame
    last = by_index[max(by_index)] if by_index else None
    return [by_index.get(i, last) for i in indices]


def read_video_frames(
    path: str | os.PathLike,
    num_frames: int,
    sampling: str = "rand",
    rng: np.random.Generator | None = None,
    method: str = "seek",
) -> torch.Tensor:
    """``num_frames`` frames of the video at ``path`` -> uint8 (T, 3, H, W) RGB.

    Indices come from :func:`sample_frame_indices` over the stream's frame count (from the
    demuxer). ``method="seek"`` (default: never slower by more than noise, much faster on
    long clips) or ``"linear"``. ValueError when the file is missing, unreadable or has no
    decodable frame.
    """
    if method not in METHODS:
        raise ValueError(f"unknown decoding method {method!r} (one of {METHODS})")
    try:
        with _opened(path) as (container, stream):
            index = index_stream(container, stream)
            if index is not None and method == "seek":
                indices = sample_frame_indices(index.num_frames, num_frames, sampling, rng)
                targets = sorted({index.pts[i] for i in indices})
                found = _decode_seeking(path, container, stream, targets, index)
        if index is None:
            frames = _count_and_decode_without_pts(path, num_frames, sampling, rng)
        else:
            if method == "linear":
                indices = sample_frame_indices(index.num_frames, num_frames, sampling, rng)
                targets = sorted({index.pts[i] for i in indices})
                found = _decode_linear(path, targets)
            frames = [found[index.pts[i]] for i in indices]
        if not frames or frames[0] is None:
            raise ValueError("no frame could be decoded")
        size = (frames[0].width, frames[0].height)
        arrays = [frame_to_array(frame, size) for frame in frames]
    except av.FFmpegError as error:
        raise ValueError(f"file {os.fspath(path)} could not be decoded ({error})") from None
    except ValueError as error:
        if os.fspath(path) in str(error):
            raise
        raise ValueError(f"file {os.fspath(path)}: {error}") from None
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()


def probe_num_frames(path: str | os.PathLike) -> int:
    """Frame count of the first video stream (from the demuxer, no decoding)."""
    try:
        with _opened(path) as (container, stream):
            index = index_stream(container, stream)
        if index is not None:
            return index.num_frames
        with _opened(path) as (container, stream):
            return sum(1 for _ in container.decode(stream))
    except av.FFmpegError as error:
        raise ValueError(f"file {os.fspath(path)} could not be read ({error})") from None


def write_video(
    path: str | os.PathLike,
    frames,
    fps: int = 8,
    codec: str = "libx264",
    options: dict | None = None,
) -> None:
    """Encode uint8 RGB frames (T, H, W, 3) (numpy or torch) to ``path`` (mp4 etc.).

    ``codec`` ``"libx264"`` (yuv420p, so even sizes) or ``"mpeg4"``; ``options`` go to the
    encoder (e.g. ``{"crf": "18"}``)."""
    frames = np.asarray(frames, dtype=np.uint8)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"expected frames (T, H, W, 3), got shape {frames.shape}")
    with av.open(os.fspath(path), mode="w") as container:
        stream = container.add_stream(codec, rate=fps, options=dict(options or {}))
        stream.height, stream.width = frames.shape[1], frames.shape[2]
        stream.pix_fmt = "yuv420p"
        for array in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(array, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
