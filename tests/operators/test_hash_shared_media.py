"""On ../shared/media (Meta ThreatExchange sample media; skipped when absent): our vPDQ frame hashes agree with
the reference's, every chair variant matches a bank built from another chair variant and no pattern or
doorknob clip matches it, and every bridge edit matches the original's PDQ bank."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from guardstream.engines.hashing import PdqSignal, Signal, VpdqSignal
from guardstream.engines.hashing.base import MatchRule
from guardstream.engines.hashing.matcher import BankedSignal, BankMatcher, BankRule
from guardstream.engines.hashing.pdq import hamming
from guardstream.engines.hashing.vpdq import VpdqSignalType
from guardstream.operators.frames import IsolatedDecoder, SampleSpec
from guardstream.operators.frames.hash_media import hash_media
from guardstream.operators.frames.hashing import HashRequest
from guardstream.pipeline.settings import LimitSettings, SamplingSettings
from tests.conftest import SHARED_MEDIA

pytestmark = [
    pytest.mark.media,
    pytest.mark.skipif(not (SHARED_MEDIA / "video").is_dir(), reason=f"shared media absent at {SHARED_MEDIA}"),
]
SAMPLING = SamplingSettings(spec="uniform")
LIMITS = LimitSettings(decode_timeout_s=300.0)
CHAIRS = ("chair-19-sd-bar", "chair-22-sd-grey-bar", "chair-22-with-small-logo-bar", "chair-orig-22-sd-bar")
OTHERS = ("doorknob-hd-no-bar", "pattern-hd-no-bar", "pattern-sd-grey-bar")


@pytest.fixture(scope="module")
def worker() -> Iterator[IsolatedDecoder]:
    decoder = IsolatedDecoder(LIMITS, recycle_after=100)
    yield decoder
    decoder.close()


def _hash(path: Path, worker: IsolatedDecoder, seconds_per_hash: float) -> Signal:
    spec = SampleSpec.from_settings(SAMPLING)
    request = HashRequest(seconds_per_hash=seconds_per_hash, sample=False)
    signal = hash_media(path, spec, SAMPLING, LIMITS, request, decoder=worker, trusted_path=True).signal
    assert signal is not None
    return signal


def test_frame_hashes_reproduce_the_reference(worker: IsolatedDecoder) -> None:
    clip = "pattern-sd-grey-bar"
    ours = _hash(SHARED_MEDIA / "video" / f"{clip}.mp4", worker, 0.0)
    reference = VpdqSignalType.parse((SHARED_MEDIA / "vpdq-reference" / f"{clip}.txt").read_text())
    assert isinstance(ours, VpdqSignal) and len(ours.frames) == len(reference.frames)
    distances = [hamming(a.hash, b.hash) for a, b in zip(ours.frames, reference.frames, strict=True)]
    assert sum(d == 0 for d in distances) / len(distances) >= 0.9 and max(distances) <= 8
    assert all(abs(a.timestamp_s - b.timestamp_s) < 1e-3 for a, b in zip(ours.frames, reference.frames, strict=True))


@pytest.mark.slow
def test_chair_variants_match_a_bank_of_another_chair_variant(worker: IsolatedDecoder) -> None:
    video = SHARED_MEDIA / "video"
    banked = {name: _hash(video / f"{name}.mp4", worker, 0.0) for name in ("chair-orig-22-sd-bar", "chair-19-sd-bar")}
    rules = [BankRule(f"bank-{n}", 1, "c4.scam", "block", MatchRule()) for n in banked]
    matcher = BankMatcher(rules, [BankedSignal(f"bank-{n}", n, s) for n, s in banked.items()])
    for name in CHAIRS + OTHERS:
        found = {m.content_id for m in matcher.match(_hash(video / f"{name}.mp4", worker, 1.0))}
        if name in CHAIRS:
            assert found - {name}, f"{name} matched no bank built from another chair variant"
        else:
            assert found == set(), f"{name} matched {found}"


def test_every_bridge_edit_matches_the_original(worker: IsolatedDecoder) -> None:
    folder = SHARED_MEDIA / "pdq"
    original = _hash(folder / "bridge-aaa-orig.jpg", worker, 0.0)
    assert isinstance(original, PdqSignal)
    matcher = BankMatcher(
        [BankRule("bridges", 1, "c4.scam", "block", MatchRule())], [BankedSignal("bridges", "orig", original)]
    )
    edits = sorted(p for p in folder.glob("bridge-*.jpg") if p.name != "bridge-aaa-orig.jpg")
    assert len(edits) == 5
    for edit in edits:
        (match,) = matcher.match(_hash(edit, worker, 0.0))
        assert match.content_id == "orig" and match.comparison.distance <= 31, edit.name
