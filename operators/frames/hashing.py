"""Hash and sample in ONE decode pass, inside the contained decoder worker (same limits, same refusals as
sampling). vPDQ needs every frame decoded (every `frame_mod`-th one hashed), so the frames the guards need are
kept from that same pass instead of decoding the file again. Frames are converted to RGB24 the way Meta's
reference vPDQ build does (nearest chroma, accurate rounding: 97.6 % of reference frame hashes at distance 0
on ../shared/media, see docs/hashing.md); the guards' frames use the sampling backend's usual conversion."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from guardstream.engines.base import Frames
from guardstream.engines.hashing.base import DecodedFrame, SignalError
from guardstream.engines.hashing.pdq import PdqSignalType
from guardstream.engines.hashing.vpdq import VpdqSignalType
from guardstream.operators.frames.errors import MediaError
from guardstream.operators.frames.image import load_image
from guardstream.operators.frames.probe import VideoProbe, open_video, probe_video, sniff_file
from guardstream.operators.frames.resize import letterbox
from guardstream.operators.frames.result import SampledMedia
from guardstream.operators.frames.samplers import get_sampler
from guardstream.operators.frames.settings import LimitSettings, SamplingSettings
from guardstream.operators.frames.spec import SampleSpec
from guardstream.schemas.dead_letter import Stage


@dataclass(frozen=True)
class HashRequest:
    """What the worker hashes: vPDQ frames every `seconds_per_hash` (0: every frame, as the reference
    sample hashes were made); `sample`: also keep the guard's frames from the same pass."""

    seconds_per_hash: float = 1.0
    sample: bool = True
    hash: bool = True  # False: the signal is already known (cached); only sample


def sample_and_hash_local(
    path: Path, spec: SampleSpec, sampling: SamplingSettings, limits: LimitSettings, request: HashRequest
) -> SampledMedia:
    """Hash `path` (PDQ for images, vPDQ for video) and, when asked, sample it by `spec` in the same pass."""
    started = time.monotonic()
    kind, container = sniff_file(path)
    if kind == "image":
        return _image(path, sampling, limits, request, started)
    probe = probe_video(path, container, limits, started + limits.decode_timeout_s)
    return _video(path, probe, spec, sampling, limits, request, started)


def _image(
    path: Path, sampling: SamplingSettings, limits: LimitSettings, request: HashRequest, started: float
) -> SampledMedia:
    rgb, info = load_image(path, limits)
    signal = _signal(PdqSignalType, [DecodedFrame(rgb, 0, 0.0)])
    count = 1 if request.sample else 0
    pixels = letterbox(rgb, sampling.frame_size)[None] if count else _no_pixels(sampling)
    return SampledMedia(
        frames=Frames(pixels=pixels, timestamps_s=(0.0,) * count, indices=(0,) * count),
        media_type="image", frames_decoded=1, frames_used=count, decode_s=time.monotonic() - started,
        probe=info, backend="pillow", spec="image" if count else "hash-only", signal=signal,
    )  # fmt: skip


def _video(
    path: Path, probe: VideoProbe, spec: SampleSpec, sampling: SamplingSettings, limits: LimitSettings,
    request: HashRequest, started: float,
) -> SampledMedia:  # fmt: skip
    deadline = started + limits.decode_timeout_s
    wanted, looked = get_sampler(spec.kind).select(path, probe, spec, deadline) if request.sample else ([], 0)
    hashed, kept, decoded = _decode_pass(path, probe, set(wanted), request.seconds_per_hash, deadline)
    missing = [i for i in wanted if i not in kept]
    if missing:
        raise MediaError(Stage.DECODE, f"frame {missing[0]} could not be decoded (corrupt or truncated stream)")
    pixels = np.stack([letterbox(kept[i], sampling.frame_size) for i in wanted]) if wanted else _no_pixels(sampling)
    return SampledMedia(
        frames=Frames(pixels, tuple(probe.timestamps_s[i] for i in wanted), tuple(wanted)),
        media_type="video", frames_decoded=decoded + looked, frames_used=len(wanted),
        decode_s=time.monotonic() - started, probe=probe.summary(), backend="pyav",
        spec=spec.kind if wanted else "hash-only", signal=_signal(VpdqSignalType, hashed),
    )  # fmt: skip


def frame_mod(seconds_per_hash: float, fps: float) -> int:
    """Hash every n-th decoded frame, n = int(seconds_per_hash × fps), at least 1 (the reference's rule)."""
    return max(1, int(seconds_per_hash * fps))


def _decode_pass(
    path: Path, probe: VideoProbe, wanted: set[int], seconds_per_hash: float, deadline: float
) -> tuple[list[DecodedFrame], dict[int, np.ndarray], int]:
    """Decode every frame once: (frames to hash, guard frames by probe index, frames decoded)."""
    from av.video.reformatter import Interpolation

    reference = Interpolation.POINT | Interpolation.ACCURATE_RND
    index_of = {pts: i for i, pts in enumerate(probe.pts)}
    every = frame_mod(seconds_per_hash, probe.fps)
    hashed: list[DecodedFrame] = []
    kept: dict[int, np.ndarray] = {}
    number = 0
    with open_video(path, probe.container) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in _frames(container, stream):
            if number % every == 0:
                rgb = frame.reformat(format="rgb24", interpolation=reference).to_ndarray()
                hashed.append(DecodedFrame(rgb, number, number / probe.fps))
            index = index_of.get(frame.pts, -1)
            if index in wanted:
                kept[index] = frame.to_ndarray(format="rgb24")
            number += 1
            if number % 16 == 0 and time.monotonic() > deadline:
                raise MediaError(Stage.DECODE, "decode exceeded the per-upload time limit")
    return hashed, kept, number


def _frames(container: Any, stream: Any) -> Any:
    try:
        yield from container.decode(stream)
    except Exception as exc:  # an FFmpeg error on corrupt data mid-stream
        raise MediaError(Stage.DECODE, f"decode failed: {type(exc).__name__}") from None


def _signal(kind: type[PdqSignalType] | type[VpdqSignalType], frames: list[DecodedFrame]) -> dict[str, str]:
    """The signal as data the parent re-parses (the child parses hostile media: never pickle)."""
    try:
        return {"algorithm": kind.name, "text": kind.serialize(kind.from_frames(frames))}
    except SignalError as exc:
        raise MediaError(Stage.DECODE, f"cannot hash: {exc}") from None


def _no_pixels(sampling: SamplingSettings) -> np.ndarray:
    return np.zeros((0, sampling.frame_size, sampling.frame_size, 3), dtype=np.uint8)


def content_sha256(path: Path) -> str:
    """`sha256:<hex>` of a fetched file (the hash cache key; computed here, never taken from the event)."""
    import hashlib

    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return f"sha256:{digest.hexdigest()}"
