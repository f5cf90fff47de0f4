"""Decoder backends behind one interface: given a probed video and sorted frame indices, return RGB frames.

PyAV (default) seeks to the keyframe at or before each target and decodes forward only as far as needed,
counting every frame it decodes. decord and torchcodec are asked for the same indices; their decoded count is
the cost of the same seek-and-decode-forward plan (neither library reports it).
"""

from __future__ import annotations

import bisect
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from guardstream.operators.frames.errors import MediaError
from guardstream.operators.frames.probe import VideoProbe, open_video
from guardstream.operators.frames.spec import decode_cost
from guardstream.schemas.dead_letter import Stage


@dataclass(frozen=True)
class Decoded:
    """Full-resolution RGB frames (in `indices` order) and how many frames the decoder had to decode."""

    rgb: list[np.ndarray]
    frames_decoded: int


class Backend(ABC):
    """A video decoder. `decode` returns exactly the requested frames or raises MediaError(DECODE)."""

    name: ClassVar[str]
    needs_isolation: ClassVar[bool] = False

    @abstractmethod
    def decode(self, path: Path, probe: VideoProbe, indices: Sequence[int], deadline: float) -> Decoded:
        """Decode `indices` (sorted, unique, presentation order) of the first video stream."""


class PyAVBackend(Backend):
    name = "pyav"

    def decode(self, path: Path, probe: VideoProbe, indices: Sequence[int], deadline: float) -> Decoded:
        wanted = {probe.pts[i]: i for i in indices}
        found: dict[int, np.ndarray] = {}
        decoded = 0
        with open_video(path, probe.container) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            position = -1
            for index in indices:
                if index in found:
                    continue
                key = _keyframe_at_or_before(probe.keyframes, index)
                if not (position < index and key <= position + 1):
                    container.seek(probe.pts[key], stream=stream, backward=True, any_frame=False)
                position, n = _decode_until(container, stream, probe, index, wanted, found, deadline)
                decoded += n
        return Decoded([_require(found, i) for i in indices], decoded)


def _keyframe_at_or_before(keyframes: Sequence[int], index: int) -> int:
    return keyframes[max(0, bisect.bisect_right(keyframes, index) - 1)]


def _decode_until(
    container: Any, stream: Any, probe: VideoProbe, index: int, wanted: dict[int, int],
    found: dict[int, np.ndarray], deadline: float,
) -> tuple[int, int]:  # fmt: skip
    """Decode forward from the current position until frame `index` is out; returns (position, decoded).

    Whole packets are consumed so no decoded frame is dropped between two calls that continue forward."""
    target_pts, decoded, last_pts = probe.pts[index], 0, None
    for packet in container.demux(stream):
        for frame in packet.decode():
            decoded += 1
            if frame.pts in wanted:
                found[wanted[frame.pts]] = frame.to_ndarray(format="rgb24")
            last_pts = frame.pts if frame.pts is not None else last_pts
        if last_pts is not None and last_pts >= target_pts:
            break
        if time.monotonic() > deadline:
            raise MediaError(Stage.DECODE, "decode exceeded the per-upload time limit")
    position = bisect.bisect_right(probe.pts, last_pts) - 1 if last_pts is not None else -1
    return position, decoded


def _require(found: dict[int, np.ndarray], index: int) -> np.ndarray:
    if index not in found:
        raise MediaError(Stage.DECODE, f"frame {index} could not be decoded (corrupt or truncated stream)")
    return found[index]


class DecordBackend(Backend):
    name = "decord"
    needs_isolation = True  # known crash, leak and deadlock reports on hostile files

    def decode(self, path: Path, probe: VideoProbe, indices: Sequence[int], deadline: float) -> Decoded:
        import decord

        try:
            reader = decord.VideoReader(str(path), ctx=decord.cpu(0), num_threads=0)
            if len(reader) != probe.frame_count:
                raise MediaError(Stage.DECODE, f"decord sees {len(reader)} frames, the probe {probe.frame_count}")
            batch = reader.get_batch(list(indices)).asnumpy()
        except decord.DECORDError as exc:
            raise MediaError(Stage.DECODE, f"decord failed: {str(exc).splitlines()[0][:200]}") from None
        return Decoded(list(batch), decode_cost(indices, probe.keyframes))


class TorchCodecBackend(Backend):
    name = "torchcodec"

    def decode(self, path: Path, probe: VideoProbe, indices: Sequence[int], deadline: float) -> Decoded:
        from torchcodec.decoders import VideoDecoder

        try:
            decoder = VideoDecoder(str(path), seek_mode="exact", dimension_order="NHWC")
            batch = decoder.get_frames_at(list(indices)).data.numpy()
        except (RuntimeError, ValueError, IndexError) as exc:
            raise MediaError(Stage.DECODE, f"torchcodec failed: {str(exc).splitlines()[0][:200]}") from None
        return Decoded(list(batch), decode_cost(indices, probe.keyframes))


BACKENDS: dict[str, type[Backend]] = {b.name: b for b in (PyAVBackend, DecordBackend, TorchCodecBackend)}


def get_backend(name: str) -> Backend:
    """The backend registered under `name` (pyav, decord, torchcodec)."""
    try:
        return BACKENDS[name]()
    except KeyError:
        raise ValueError(f"unknown decode backend {name!r}; choose from {sorted(BACKENDS)}") from None
