"""Frame sampling and media limits: the sections the fetch, probe, decode and sampling code reads."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from guardstream.schemas._base import Section


class SamplingSettings(Section):
    spec: Literal["uniform", "fps", "keyframe", "scene"] = "uniform"
    frames: int = Field(default=8, ge=1, le=256)
    fps: float = Field(default=1.0, gt=0)
    keyframe_tolerance_s: float = Field(default=1.0, ge=0)
    backend: Literal["pyav", "decord", "torchcodec"] = "pyav"
    frame_size: int = Field(default=224, ge=16, le=2048, description="Guard input edge (square, aspect kept, padded).")
    isolate: bool = Field(default=True, description="Decode untrusted media in a recycled worker subprocess.")
    worker_recycle_after: int = Field(default=50, ge=1)
    max_frames_per_upload: int = Field(default=64, ge=1, le=1024, description="Cap on frames any spec keeps.")
    scene_threshold: float = Field(default=0.3, gt=0, le=2, description="Histogram distance that starts a shot.")


class LimitSettings(Section):
    max_bytes: int = 512 * 1024 * 1024
    max_pixels: int = 3840 * 2160
    max_duration_s: float = 3600.0
    max_frames: int = 1_000_000
    decode_timeout_s: float = 60.0
    fetch_timeout_s: float = 30.0
    decode_memory_mb: int = 2048
    allowed_roots: tuple[Path, ...] = ()
    allowed_hosts: tuple[str, ...] = ()
    max_redirects: int = Field(default=3, ge=0)
    allowed_video_codecs: tuple[str, ...] = ("h264", "hevc", "vp8", "vp9", "av1", "mpeg4")
