"""vPDQ (Meta's video hash): a PDQ hash per hashed frame, with its quality and timestamp. Matching is the
reference two-sided rule: drop frames under the quality floor, dedupe by hash, then the share of the query's
frames within `distance` of some compared frame (query_match_pct) and the converse (compared_match_pct); a
match needs both at or above the bank's thresholds (python-threatexchange's defaults: 80 % and 0 %)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from guardstream.engines.hashing.base import Comparison, DecodedFrame, MatchRule, Signal, SignalError, SignalType
from guardstream.engines.hashing.pdq import check_hex, hex_to_bytes, pdq_from_rgb

ROW_BLOCK = 256


@dataclass(frozen=True)
class VpdqFrame:
    frame: int
    quality: int
    hash: str
    timestamp_s: float


@dataclass(frozen=True)
class VpdqSignal(Signal):
    frames: tuple[VpdqFrame, ...]

    @property
    def algorithm(self) -> str:
        return "vpdq"

    def to_json(self) -> dict[str, Any]:
        frames = [
            {"frame": f.frame, "quality": f.quality, "hash": f.hash, "timestamp_s": round(f.timestamp_s, 3)}
            for f in self.frames
        ]
        return {"kind": "video", "algorithm": "vpdq", "frames": frames}


class VpdqSignalType(SignalType):
    """vPDQ of a video. Serialised as the reference's text: one `frame,quality,hash,timestamp` line per frame."""

    name = "vpdq"
    media_type = "video"

    @classmethod
    def from_frames(cls, frames: Sequence[DecodedFrame]) -> VpdqSignal:
        if not frames:
            raise SignalError("vPDQ needs at least one decoded frame")
        out = []
        for frame in frames:
            digest, quality = pdq_from_rgb(frame.rgb)
            out.append(VpdqFrame(frame.index, quality, digest, frame.timestamp_s))
        return VpdqSignal(tuple(out))

    @classmethod
    def compare(cls, query: Signal, banked: Signal, rule: MatchRule) -> Comparison:
        q_hashes, q_times = cls.frame_hashes(_vpdq(query), rule.quality)
        b_hashes, _ = cls.frame_hashes(_vpdq(banked), rule.quality)
        if len(q_hashes) == 0 or len(b_hashes) == 0:
            return Comparison(False, 256, 0.0, 0.0)
        q_hit, b_hit, best = _two_sided(q_hashes, b_hashes, rule.distance)
        q_pct, b_pct = 100.0 * float(q_hit.mean()), 100.0 * float(b_hit.mean())
        matched = q_pct >= rule.query_match_pct and b_pct >= rule.compared_match_pct and bool(q_hit.any())
        times = tuple(float(t) for t in q_times[q_hit])
        return Comparison(matched, best, round(q_pct, 3), round(b_pct, 3), times)

    @classmethod
    def serialize(cls, signal: Signal) -> str:
        return "\n".join(f"{f.frame},{f.quality},{f.hash},{f.timestamp_s:.3f}" for f in _vpdq(signal).frames)

    @classmethod
    def parse(cls, text: str) -> VpdqSignal:
        frames = [parse_line(line, n) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
        if not frames:
            raise SignalError("a vPDQ signal has at least one frame line")
        return VpdqSignal(tuple(frames))

    @classmethod
    def examples(cls) -> list[Signal]:
        from guardstream.engines.hashing.pdq import PdqSignalType

        hashes = [s.hash for s in PdqSignalType.examples() if hasattr(s, "hash")]
        return [VpdqSignal(tuple(VpdqFrame(i, 100, h, float(i)) for i, h in enumerate(hashes)))]

    @classmethod
    def frame_hashes(cls, signal: Signal, quality: int) -> tuple[np.ndarray, np.ndarray]:
        """Unique hashes (first occurrence) of the frames at or above `quality`, with their timestamps."""
        seen: dict[str, float] = {}
        for f in _vpdq(signal).frames:
            if f.quality >= quality and f.hash not in seen:
                seen[f.hash] = f.timestamp_s
        return hex_to_bytes(list(seen)), np.array(list(seen.values()), dtype=np.float64)


def parse_line(line: str, line_number: int) -> VpdqFrame:
    """One reference line `frame,quality,hash,timestamp`; SignalError naming the line otherwise."""
    parts = line.strip().split(",")
    try:
        if len(parts) != 4:
            raise SignalError("expected frame,quality,hash,timestamp")
        frame, quality, timestamp_s = int(parts[0]), int(parts[1]), float(parts[3])
        if frame < 0 or not 0 <= quality <= 100 or not timestamp_s >= 0:
            raise SignalError("frame, quality (0-100) and timestamp must be non-negative")
        return VpdqFrame(frame, quality, check_hex(parts[2]), timestamp_s)
    except (SignalError, ValueError) as exc:
        raise SignalError(f"line {line_number}: {exc}") from None


def pairwise_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamming distances (len(a), len(b)) of uint8 (n, 32) hash arrays."""
    a64, b64 = a.view(np.uint64), b.view(np.uint64)
    distances: np.ndarray = np.bitwise_count(a64[:, None, :] ^ b64[None, :, :]).sum(axis=2, dtype=np.int32)
    return distances


def _two_sided(q: np.ndarray, b: np.ndarray, distance: int) -> tuple[np.ndarray, np.ndarray, int]:
    """(query frames with a compared frame within `distance`, the converse, best distance among hits)."""
    q_hit = np.zeros(len(q), dtype=bool)
    b_hit = np.zeros(len(b), dtype=bool)
    best = 256
    for start in range(0, len(q), ROW_BLOCK):
        d = pairwise_distances(q[start : start + ROW_BLOCK], b)
        close = d <= distance
        q_hit[start : start + ROW_BLOCK] = close.any(axis=1)
        b_hit |= close.any(axis=0)
        best = min(best, int(d.min()))
    return q_hit, b_hit, best


def _vpdq(signal: Signal) -> VpdqSignal:
    if not isinstance(signal, VpdqSignal):
        raise SignalError(f"expected a vPDQ signal, got {signal.algorithm}")
    return signal
