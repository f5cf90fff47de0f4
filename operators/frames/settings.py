"""Frame sampling and media limits: the sections the fetch, probe, decode and sampling code reads."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from guardstream.operators.objectstore_settings import ObjectStoreSettings
from guardstream.schemas._base import Section


class SamplingSettings(Section):
    spec: str = Field(
        default="keyframe",
        description="A registered frame sampler (operators/frames/samplers.py). The default snaps targets to keyframes "
        "within keyframe_tolerance_s (decoded ÷ used ≤ 2 on the shared clips); `uniform` keeps exact frames.",
    )
    frames: int = Field(default=8, ge=1, le=256)
    fps: float = Field(default=1.0, gt=0)
    keyframe_tolerance_s: float = Field(default=5.0, ge=0, description="How far a target may move to a keyframe.")
    backend: str = Field(default="pyav", description="A registered decode backend (operators/frames/backends.py).")
    frame_size: int = Field(default=224, ge=16, le=2048, description="Guard input edge (square, aspect kept, padded).")
    isolate: bool = Field(default=True, description="Decode untrusted media in a recycled worker subprocess.")
    worker_recycle_after: int = Field(default=50, ge=1)
    max_frames_per_upload: int = Field(default=64, ge=1, le=1024, description="Cap on frames any spec keeps.")
    scene_threshold: float = Field(default=0.3, gt=0, le=2, description="Histogram distance that starts a shot.")

    @field_validator("spec")
    @classmethod
    def _registered_sampler(cls, name: str) -> str:
        from guardstream.operators.frames.samplers import SAMPLERS

        if name not in SAMPLERS:
            raise ValueError(f"unknown frame sampler {name!r}; registered: {sorted(SAMPLERS)}")
        return name

    @field_validator("backend")
    @classmethod
    def _registered_backend(cls, name: str) -> str:
        from guardstream.operators.frames.backends import BACKENDS

        if name not in BACKENDS:
            raise ValueError(f"unknown decode backend {name!r}; registered: {sorted(BACKENDS)}")
        return name


class LimitSettings(Section):
    max_bytes: int = 512 * 1024 * 1024
    max_pixels: int = 3840 * 2160
    max_duration_s: float = 3600.0
    max_frames: int = 1_000_000
    decode_timeout_s: float = 60.0
    fetch_timeout_s: float = 30.0
    fetch_attempts: int = Field(
        default=3, ge=1, le=10, description="Tries of a remote fetch on transient failures (within fetch_timeout_s)."
    )
    decode_memory_mb: int = 2048
    allowed_roots: tuple[Path, ...] = ()
    allowed_hosts: tuple[str, ...] = ()
    max_redirects: int = Field(default=3, ge=0)
    allowed_video_codecs: tuple[str, ...] = ("h264", "hevc", "vp8", "vp9", "av1", "mpeg4")
    store: ObjectStoreSettings | None = Field(
        default=None, description="Where s3:// media is read (buckets: its allowed_media_buckets); None → refused."
    )
