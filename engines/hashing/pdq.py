"""PDQ (Meta's perceptual photo hash, via the `pdqhash` reference bindings) for images and single frames:
256 bits, Hamming distance, quality 0–100; a match is distance ≤ the bank's threshold (31 by default)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from guardstream.engines.hashing.base import Comparison, DecodedFrame, MatchRule, Signal, SignalError, SignalType

HASH_HEX_CHARS = 64
_HEX = re.compile(r"^[0-9a-f]{64}$")


def pdq_from_rgb(rgb: np.ndarray) -> tuple[str, int]:
    """(64-hex PDQ hash, quality) of an RGB24 uint8 (H, W, 3) image, as the reference computes it."""
    import pdqhash

    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise SignalError("PDQ needs an RGB uint8 image (H, W, 3)")
    if min(rgb.shape[:2]) < 5:
        raise SignalError("image is too small to hash (under 5 pixels on a side)")
    bits, quality = pdqhash.compute(np.ascontiguousarray(rgb))
    return np.packbits(bits.astype(np.uint8)).tobytes().hex(), int(quality)


def check_hex(text: str) -> str:
    """A lower-case 64-hex PDQ hash, or SignalError."""
    value = text.strip().lower()
    if not _HEX.match(value):
        raise SignalError("a PDQ hash is 64 hexadecimal characters")
    return value


def hex_to_bytes(hashes: Sequence[str]) -> np.ndarray:
    """uint8 (n, 32) from 64-hex strings."""
    if not hashes:
        return np.zeros((0, 32), dtype=np.uint8)
    return np.frombuffer(bytes.fromhex("".join(hashes)), dtype=np.uint8).reshape(len(hashes), 32).copy()


def hamming(a: str, b: str) -> int:
    """Hamming distance of two 64-hex PDQ hashes."""
    return (int(a, 16) ^ int(b, 16)).bit_count()


@dataclass(frozen=True)
class PdqSignal(Signal):
    hash: str
    quality: int

    @property
    def algorithm(self) -> str:
        return "pdq"

    def to_json(self) -> dict[str, Any]:
        return {"kind": "image", "algorithm": "pdq", "hash": self.hash, "quality": self.quality}


class PdqSignalType(SignalType):
    """PDQ of one image (or one frame). Serialised as the 64-hex hash and the quality: `HASH,QUALITY`."""

    name = "pdq"
    media_type = "image"

    @classmethod
    def from_frames(cls, frames: Sequence[DecodedFrame]) -> PdqSignal:
        if len(frames) != 1:
            raise SignalError(f"PDQ hashes exactly one image, got {len(frames)} frames")
        return PdqSignal(*pdq_from_rgb(frames[0].rgb))

    @classmethod
    def compare(cls, query: Signal, banked: Signal, rule: MatchRule) -> Comparison:
        q, b = _pdq(query), _pdq(banked)
        distance = hamming(q.hash, b.hash)
        usable = q.quality >= rule.quality
        return Comparison(matched=usable and distance <= rule.distance, distance=distance, timestamps_s=(0.0,))

    @classmethod
    def serialize(cls, signal: Signal) -> str:
        s = _pdq(signal)
        return f"{s.hash},{s.quality}"

    @classmethod
    def parse(cls, text: str) -> PdqSignal:
        parts = text.strip().split(",")
        if len(parts) > 2:
            raise SignalError("a PDQ signal is HASH or HASH,QUALITY")
        quality = _quality(parts[1]) if len(parts) == 2 else 100
        return PdqSignal(check_hex(parts[0]), quality)

    @classmethod
    def examples(cls) -> list[Signal]:
        # pdq/data/bridge-mods hashes, as listed by python-threatexchange's PdqSignal
        return [
            PdqSignal("f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22", 100),
            PdqSignal("f8f8f0cee0f4a84f06370a2a038f63f0b36e26d596621e1d33e6b39c4e9c9b22", 100),
            PdqSignal("d8f8f0cec0f4a84f8e370a22038f67f0b36a2ed597231e1d72e6b39c4a9c9b22", 100),
        ]

    @classmethod
    def frame_hashes(cls, signal: Signal, quality: int) -> tuple[np.ndarray, np.ndarray]:
        s = _pdq(signal)
        hashes = [s.hash] if s.quality >= quality else []
        return hex_to_bytes(hashes), np.zeros(len(hashes))


def _pdq(signal: Signal) -> PdqSignal:
    if not isinstance(signal, PdqSignal):
        raise SignalError(f"expected a PDQ signal, got {signal.algorithm}")
    return signal


def _quality(text: str) -> int:
    try:
        quality = int(text)
    except ValueError:
        raise SignalError("quality must be an integer 0-100") from None
    if not 0 <= quality <= 100:
        raise SignalError("quality must be an integer 0-100")
    return quality
