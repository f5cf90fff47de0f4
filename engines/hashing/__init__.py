"""Known-content matching: signal types (PDQ for images and frames, vPDQ for video), their registry, and an
exact multi-index-hashing index for 256-bit hashes. Pure engines code: no Beam, no decoding of files (frames
arrive decoded from the contained decoder worker)."""

from guardstream.engines.hashing.base import Comparison, Signal, SignalType, signal_type, signal_types
from guardstream.engines.hashing.index import HashIndex, brute_force_range_search
from guardstream.engines.hashing.pdq import PdqSignal, PdqSignalType
from guardstream.engines.hashing.vpdq import VpdqFrame, VpdqSignal, VpdqSignalType

__all__ = [
    "Comparison",
    "HashIndex",
    "PdqSignal",
    "PdqSignalType",
    "Signal",
    "SignalType",
    "VpdqFrame",
    "VpdqSignal",
    "VpdqSignalType",
    "brute_force_range_search",
    "signal_type",
    "signal_types",
]
