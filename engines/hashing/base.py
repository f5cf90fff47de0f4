"""The signal-type seam (after python-threatexchange's SignalType): a name, the media kind it hashes, how to
compute a signal from decoded frames, how to compare two signals against a threshold, and a text
serialisation that bank files and the lake store."""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from guardstream.engines.hashing.manifest import SIGNAL_TYPES


class SignalError(ValueError):
    """A signal (or its serialisation) is malformed; the message says what is wrong, never the payload."""


@dataclass(frozen=True)
class Signal(ABC):
    """A computed hash of one piece of content."""

    @property
    @abstractmethod
    def algorithm(self) -> str:
        """The registry name of the signal type that made it."""

    @abstractmethod
    def to_json(self) -> dict[str, Any]:
        """The JSON shape `guardstream hash --json` prints."""


@dataclass(frozen=True)
class DecodedFrame:
    """One decoded frame as the reference converts it: RGB24 uint8 (H, W, 3), its index and timestamp."""

    rgb: np.ndarray
    index: int
    timestamp_s: float


@dataclass(frozen=True)
class Comparison:
    """How a query compares with one banked signal. `distance`: best PDQ Hamming distance (vPDQ: over the
    matched frames); the two percentages only for video; `timestamps_s`: query frames that matched."""

    matched: bool
    distance: int
    query_match_pct: float | None = None
    compared_match_pct: float | None = None
    timestamps_s: tuple[float, ...] = field(default=())


@dataclass(frozen=True)
class MatchRule:
    """A bank's thresholds: PDQ distance (inclusive) and, for video, the two-sided match percentages."""

    distance: int = 31
    query_match_pct: float = 80.0
    compared_match_pct: float = 0.0
    quality: int = 50


class SignalType(ABC):
    """One hashing algorithm. Required: `from_frames`, `compare`, `serialize`, `parse`, `examples`."""

    name: ClassVar[str]
    media_type: ClassVar[str]  # "image" or "video"

    @classmethod
    @abstractmethod
    def from_frames(cls, frames: Sequence[DecodedFrame]) -> Signal:
        """The signal of decoded content (one frame for an image; the hashed frames, in order, for a video)."""

    @classmethod
    @abstractmethod
    def compare(cls, query: Signal, banked: Signal, rule: MatchRule) -> Comparison:
        """Compare a query with a banked signal under `rule`."""

    @classmethod
    @abstractmethod
    def serialize(cls, signal: Signal) -> str:
        """Text form (one line for PDQ; reference `frame,quality,hash,timestamp` lines for vPDQ)."""

    @classmethod
    @abstractmethod
    def parse(cls, text: str) -> Signal:
        """Inverse of `serialize`; SignalError naming what is wrong for malformed text."""

    @classmethod
    @abstractmethod
    def examples(cls) -> list[Signal]:
        """Known-good signals for the conformance suite."""

    @classmethod
    @abstractmethod
    def frame_hashes(cls, signal: Signal, quality: int) -> tuple[np.ndarray, np.ndarray]:
        """(uint8 (n, 32) PDQ hashes usable by the index, float timestamps) of frames at or above `quality`."""


def signal_types() -> dict[str, str]:
    """Registered names → "module:Class"."""
    return dict(SIGNAL_TYPES)


def signal_type(name: str) -> type[SignalType]:
    """The signal type registered under `name`; ValueError naming the registered ones otherwise."""
    target = SIGNAL_TYPES.get(name)
    if target is None:
        raise ValueError(f"unknown signal type {name!r}; registered: {sorted(SIGNAL_TYPES)}")
    module, _, attr = target.partition(":")
    cls: type[SignalType] = getattr(importlib.import_module(module), attr)
    return cls
