"""Sample one local file in this process: sniff, probe, choose frames, decode, resize. The isolated worker
runs exactly this; so does in-process decoding of trusted media."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from guardstream.engines.base import Frames
from guardstream.operators.frames.backends import get_backend
from guardstream.operators.frames.errors import MediaError
from guardstream.operators.frames.image import load_image
from guardstream.operators.frames.probe import probe_video, sniff_file
from guardstream.operators.frames.resize import letterbox
from guardstream.operators.frames.result import SampledMedia
from guardstream.operators.frames.samplers import get_sampler
from guardstream.operators.frames.settings import LimitSettings, SamplingSettings
from guardstream.operators.frames.spec import SampleSpec
from guardstream.schemas.dead_letter import Stage


def sample_local(path: Path, spec: SampleSpec, sampling: SamplingSettings, limits: LimitSettings) -> SampledMedia:
    """Sample `path` (already fetched and size-checked) by `spec` with the backend in `sampling`."""
    started = time.monotonic()
    deadline = started + limits.decode_timeout_s
    kind, container = sniff_file(path)
    if kind == "image":
        return _sample_image(path, sampling, limits, started)
    return _sample_video(path, container, spec, sampling, limits, started, deadline)


def _sample_image(path: Path, sampling: SamplingSettings, limits: LimitSettings, started: float) -> SampledMedia:
    rgb, info = load_image(path, limits)
    pixels = letterbox(rgb, sampling.frame_size)[None]
    return SampledMedia(
        frames=Frames(pixels=pixels, timestamps_s=(0.0,), indices=(0,)),
        media_type="image",
        frames_decoded=1,
        frames_used=1,
        decode_s=time.monotonic() - started,
        probe=info,
        backend="pillow",
        spec="image",
    )


def _sample_video(
    path: Path, container: str, spec: SampleSpec, sampling: SamplingSettings, limits: LimitSettings,
    started: float, deadline: float,
) -> SampledMedia:  # fmt: skip
    probe = probe_video(path, container, limits, deadline)
    indices, scene_decoded = get_sampler(spec.kind).select(path, probe, spec, deadline)
    decoded = get_backend(sampling.backend).decode(path, probe, indices, deadline)
    if len(decoded.rgb) != len(indices):
        raise MediaError(Stage.DECODE, f"backend returned {len(decoded.rgb)} frames for {len(indices)} asked")
    pixels = np.stack([letterbox(np.ascontiguousarray(rgb), sampling.frame_size) for rgb in decoded.rgb])
    timestamps_s = tuple(probe.timestamps_s[i] for i in indices)
    return SampledMedia(
        frames=Frames(pixels=pixels, timestamps_s=timestamps_s, indices=tuple(indices)),
        media_type="video",
        frames_decoded=decoded.frames_decoded + scene_decoded,
        frames_used=len(indices),
        decode_s=time.monotonic() - started,
        probe=probe.summary(),
        backend=sampling.backend,
        spec=spec.kind,
    )
