"""SampledMedia: what sampling one upload produces."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from guardstream.engines.base import Frames


@dataclass(frozen=True)
class SampledMedia:
    """Frames resized for the guard, plus the cost of getting them and what the probe saw."""

    frames: Frames
    media_type: str  # schemas.upload.MediaType value: "video" or "image"
    frames_decoded: int
    frames_used: int
    decode_s: float
    probe: dict[str, Any] = field(default_factory=dict)
    backend: str = ""
    spec: str = ""
    signal: dict[str, str] | None = None  # {"algorithm", "text"} when the worker hashed the media (hashing.py)

    @property
    def decoded_per_used(self) -> float:
        return self.frames_decoded / max(1, self.frames_used)

    def to_json(self) -> dict[str, Any]:
        """One JSON-friendly object (no pixels)."""
        return {
            "media_type": self.media_type,
            "backend": self.backend,
            "spec": self.spec,
            "frames": [
                {"index": i, "timestamp_s": round(t, 6)}
                for i, t in zip(self.frames.indices, self.frames.timestamps_s, strict=True)
            ],
            "frame_shape": list(self.frames.pixels.shape[1:]),
            "frames_decoded": self.frames_decoded,
            "frames_used": self.frames_used,
            "decoded_per_used": round(self.decoded_per_used, 3),
            "decode_s": round(self.decode_s, 6),
            "probe": self.probe,
        }
