"""MatchHashes on a real Beam pipeline (FnApiRunner) with a real Iceberg bank table and the contained decoder:
a banked re-upload leaves as a bank-decided verdict and never reaches the guards' input; other uploads go on,
already sampled; refused media is a dead letter; the stage's verdict names bank, version and content."""

from __future__ import annotations

from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline as BeamPipeline
from apache_beam.testing.util import assert_that, equal_to

from guardstream.engines.hashing.settings import HashingSettings
from guardstream.operators.banks import BankStore, NewEntry
from guardstream.operators.envelope import Envelope, Outcome
from guardstream.operators.frames import SampleSpec
from guardstream.operators.frames.hash_media import hash_media
from guardstream.operators.frames.hashing import HashRequest
from guardstream.operators.hash_verdict import HASH_GUARD_NAME
from guardstream.operators.lake_settings import LakeSettings
from guardstream.operators.match_hashes import BankSource, MatchHashes, SignalCache
from guardstream.pipeline.demo_banks import reencoded
from guardstream.pipeline.settings import LimitSettings, SamplingSettings
from guardstream.schemas.dead_letter import Stage
from guardstream.schemas.policy import load_policy_pack
from tests.conftest import make_event
from tests.operators.hash_media import make_texture_clip, texture, write_jpeg

SAMPLING = SamplingSettings(spec="uniform", frames=3, isolate=True)
HASHING = HashingSettings(refresh_s=0.0)


def _verdict_facts(outcome: Outcome) -> tuple[bytes, str, str, str, int, str]:
    verdict = outcome.verdict
    assert verdict is not None
    (result,) = verdict.results
    hit = result.evidence.hash_match
    assert hit is not None and hit.bank_version is not None and result.explanation
    assert hit.bank in result.explanation and f"v{hit.bank_version}" in result.explanation
    return (
        outcome.envelope.payload,
        verdict.guard_name,
        verdict.action.value,
        hit.bank,
        hit.bank_version,
        hit.matched_id,
    )


@pytest.mark.slow
def test_banked_uploads_are_decided_before_the_guards(tmp_path: Path) -> None:
    media = tmp_path / "media"
    media.mkdir()
    limits = LimitSettings(allowed_roots=(media,))
    banks = BankSource(LakeSettings(), f"sqlite:///{tmp_path / 'catalog.db'}", f"file://{tmp_path / 'warehouse'}")
    store = BankStore.open(banks.lake, banks.catalog_uri, banks.warehouse, HASHING)
    store.create("known-images", "c4.scam", "block")
    store.create("known-clips", "c1.minors", "review")
    photo = write_jpeg(texture(21), media / "photo.jpg")
    clip = make_texture_clip(media / "clip.mp4", seed=22, frames=48)
    spec = SampleSpec.from_settings(SAMPLING)

    def banked(path: Path, seconds: float) -> object:
        return hash_media(path, spec, SAMPLING, limits, HashRequest(seconds, sample=False), trusted_path=True).signal

    store.add("known-images", [NewEntry("img-1", banked(photo, 0.0), "test")])  # type: ignore[arg-type]
    store.add("known-clips", [NewEntry("clip-1", banked(clip, 0.0), "test")])  # type: ignore[arg-type]
    reupload = reencoded(photo, media / "reupload.jpg")
    clip_copy = make_texture_clip(media / "copy.mp4", seed=22, frames=48, crf=30)  # re-encoded
    other = write_jpeg(texture(23), media / "other.jpg")
    image, routed = {"media_type": "image"}, {"policy_set_id": "default"}
    uploads = [
        Envelope(b"reupload", event=make_event(1, media_uri=reupload.as_uri(), **image), **routed),
        Envelope(b"clip-copy", event=make_event(2, media_uri=clip_copy.as_uri()), **routed),
        Envelope(b"other", event=make_event(3, media_uri=other.as_uri(), **image), **routed),
        Envelope(b"outside", event=make_event(4, media_uri="file:///etc/hostname"), **routed),
    ]
    pack = load_policy_pack()
    with BeamPipeline() as pipeline:
        out = pipeline | beam.Create(uploads) | MatchHashes(HASHING, SAMPLING, limits, banks, pack)
        assert_that(
            out.matched | beam.Map(_verdict_facts),
            equal_to(
                [
                    (b"reupload", HASH_GUARD_NAME, "block", "known-images", 2, "img-1"),
                    (b"clip-copy", HASH_GUARD_NAME, "review", "known-clips", 2, "clip-1"),
                ]
            ),
            label="matched",
        )
        assert_that(
            out.unmatched | beam.Map(lambda pair: (pair[0].payload, pair[1].frames_used)),
            equal_to([(b"other", 1)]),
            label="to-guards",
        )
        assert_that(out.failed | beam.Map(lambda d: (d.payload, d.stage)), equal_to([(b"outside", Stage.FETCH)]))


def test_signal_cache_evicts_least_recently_used() -> None:
    from guardstream.engines.hashing import PdqSignalType

    a, b, c = PdqSignalType.examples()
    cache = SignalCache(2)
    cache.put("a", a)
    cache.put("b", b)
    assert cache.get("a") == a
    cache.put("c", c)
    assert cache.get("b") is None and cache.get("a") == a and cache.get("c") == c
