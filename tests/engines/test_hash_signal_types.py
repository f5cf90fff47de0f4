"""Every signal type in engines/hashing/manifest.py passes this conformance suite — a new type is covered by
adding its module and its manifest line, nothing else (after python-threatexchange's SignalTypeAutoTest)."""

from __future__ import annotations

import pytest

from guardstream.engines.hashing import signal_type, signal_types
from guardstream.engines.hashing.base import DecodedFrame, MatchRule, SignalError, SignalType
from tests.operators.hash_media import texture

NAMES = sorted(signal_types())


@pytest.fixture(params=NAMES)
def kind(request: pytest.FixtureRequest) -> type[SignalType]:
    return signal_type(request.param)


def _frames(kind: type[SignalType], seed: int) -> list[DecodedFrame]:
    count = 1 if kind.media_type == "image" else 4
    return [DecodedFrame(texture(seed + i), i, float(i)) for i in range(count)]


def test_registry_has_pdq_and_vpdq() -> None:
    assert {"pdq", "vpdq"} <= set(NAMES)
    with pytest.raises(ValueError, match="registered"):
        signal_type("no-such-signal")


def test_name_and_media_type(kind: type[SignalType]) -> None:
    assert kind.name in NAMES and kind.media_type in ("image", "video")


def test_serialisation_round_trips(kind: type[SignalType]) -> None:
    for example in [*kind.examples(), kind.from_frames(_frames(kind, 3))]:
        text = kind.serialize(example)
        assert kind.parse(text) == example
        assert kind.serialize(kind.parse(text)) == text
        assert example.algorithm == kind.name and example.to_json()["algorithm"] == kind.name


def test_malformed_text_is_refused(kind: type[SignalType]) -> None:
    for bad in ("", "zz", "0" * 63, "not,a,valid,signal,at,all"):
        with pytest.raises(SignalError):
            kind.parse(bad)


def test_a_signal_matches_itself_at_distance_zero(kind: type[SignalType]) -> None:
    for example in kind.examples():
        result = kind.compare(example, example, MatchRule())
        assert result.matched and result.distance == 0


def test_hashing_is_deterministic_and_tells_content_apart(kind: type[SignalType]) -> None:
    one, again, other = (kind.from_frames(_frames(kind, s)) for s in (1, 1, 50))
    assert one == again
    assert kind.compare(one, again, MatchRule()).matched
    assert not kind.compare(one, other, MatchRule()).matched


def test_distance_zero_threshold_is_exact(kind: type[SignalType]) -> None:
    example = kind.examples()[0]
    assert kind.compare(example, example, MatchRule(distance=0)).matched


def test_frame_hashes_feed_the_index(kind: type[SignalType]) -> None:
    hashes, times = kind.frame_hashes(kind.from_frames(_frames(kind, 2)), quality=50)
    assert hashes.dtype.name == "uint8" and hashes.shape[1] == 32 and len(hashes) == len(times) >= 1


def test_other_signal_types_are_refused(kind: type[SignalType]) -> None:
    foreign = next(signal_type(n) for n in NAMES if n != kind.name).examples()[0]
    with pytest.raises(SignalError):
        kind.compare(foreign, kind.examples()[0], MatchRule())
