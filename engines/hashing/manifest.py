"""The signal-type manifest: registry name → "module:Class", imported only when used. Adding a signal type is
one module plus one line here; tests/engines/test_hash_signal_types.py runs the conformance suite on every
entry automatically."""

from __future__ import annotations

SIGNAL_TYPES: dict[str, str] = {
    "pdq": "guardstream.engines.hashing.pdq:PdqSignalType",
    "vpdq": "guardstream.engines.hashing.vpdq:VpdqSignalType",
}
