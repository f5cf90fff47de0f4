"""MatchHashes: known-content matching before any guard. For each upload: fetch (the stream's limits), hash
it — PDQ / vPDQ — and sample the guard's frames in ONE pass of the contained decoder worker, match the hash
against every bank (exact index, bank table snapshot, refreshed when a bank version changes), and either
decide the verdict from the bank (`matched`; the guards are not called) or pass the sampled upload on
(`unmatched`). Signals are cached by the content's sha256: a cached re-upload that matches is decided without
decoding at all. Refused media leaves through `failed` with the stage and reason, as from SampleFrames.

PCollection[Envelope] → HashedUploads(matched: PCollection[Outcome], unmatched: PCollection[tuple[Envelope,
SampledMedia]], failed: PCollection[DeadLetter]).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

import apache_beam as beam
import structlog
from apache_beam.metrics import Metrics

from guardstream.engines.hashing import Signal
from guardstream.engines.hashing.matcher import BankMatcher, Match
from guardstream.engines.hashing.settings import HashingSettings
from guardstream.operators.banks import BankStore
from guardstream.operators.envelope import Envelope, Outcome
from guardstream.operators.frames import IsolatedDecoder, MediaError, SampledMedia, SampleSpec
from guardstream.operators.frames.hash_media import HashedMedia, hash_media
from guardstream.operators.frames.hashing import HashRequest
from guardstream.operators.frames.settings import LimitSettings, SamplingSettings
from guardstream.operators.hash_verdict import hash_verdict
from guardstream.operators.lake_settings import LakeSettings
from guardstream.schemas.dead_letter import DeadLetter, Stage
from guardstream.schemas.policy import PolicyPack
from guardstream.schemas.verdict import Latency

log = structlog.get_logger(__name__)
MATCHED, FAILED = "matched", "failed"
NAMESPACE = "guardstream.hashing"


class HashedUploads(NamedTuple):
    matched: beam.PCollection[Outcome]  # decided by a bank
    unmatched: beam.PCollection[tuple[Envelope, SampledMedia]]  # for the guards
    failed: beam.PCollection[DeadLetter]


@dataclass(frozen=True)
class BankSource:
    """Where the bank table lives (the lake's catalog)."""

    lake: LakeSettings
    catalog_uri: str
    warehouse: str


class SignalCache:
    """Signals by content sha256, least recently used evicted."""

    def __init__(self, capacity: int) -> None:
        self.capacity, self._items = capacity, OrderedDict[str, Signal]()

    def get(self, digest: str) -> Signal | None:
        if digest in self._items:
            self._items.move_to_end(digest)
        return self._items.get(digest)

    def put(self, digest: str, signal: Signal) -> None:
        if self.capacity <= 0:
            return
        self._items[digest] = signal
        self._items.move_to_end(digest)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)


class _MatchDoFn(beam.DoFn):
    def __init__(self, hashing: HashingSettings, sampling: SamplingSettings, limits: LimitSettings,
                 banks: BankSource, pack: PolicyPack, spec: SampleSpec) -> None:  # fmt: skip
        self.hashing, self.sampling, self.limits, self.banks, self.pack, self.spec = (
            hashing, sampling, limits, banks, pack, spec,
        )  # fmt: skip
        self.matched_count = Metrics.counter(NAMESPACE, "uploads_matched")
        self.cache_hits = Metrics.counter(NAMESPACE, "cache_hits")
        self.hash_ms = Metrics.distribution(NAMESPACE, "hash_ms")

    def setup(self) -> None:
        self.decoder = IsolatedDecoder(self.limits, self.sampling.worker_recycle_after, backends=("pyav",))
        self.store = BankStore.open(self.banks.lake, self.banks.catalog_uri, self.banks.warehouse, self.hashing)
        self.cache = SignalCache(self.hashing.cache_entries)
        self.snapshot: int | None = -1
        self.checked_at = 0.0
        self.matcher = BankMatcher([], [])
        self._refresh(force=True)

    def _refresh(self, force: bool = False) -> None:
        """Rebuild the matcher when the bank table's snapshot moved (checked every `refresh_s`)."""
        if not force and time.monotonic() - self.checked_at < self.hashing.refresh_s:
            return
        self.checked_at = time.monotonic()
        snapshot = self.store.snapshot_id()
        if snapshot != self.snapshot:
            self.matcher, self.snapshot = self.store.matcher(), snapshot
            log.info("hash_banks_loaded", snapshot=snapshot, entries=len(self.matcher), banks=len(self.matcher.banks))

    def process(self, envelope: Envelope) -> Iterator[Any]:
        if envelope.event is None or envelope.policy_set_id is None:
            yield beam.pvalue.TaggedOutput(FAILED, envelope.dead_letter(Stage.FETCH, "no routed upload event"))
            return
        started = time.monotonic()
        try:
            self._refresh()
            hashed, matches = self._hash_and_match(envelope)
        except MediaError as exc:
            letter = envelope.dead_letter(exc.stage, exc.reason, "MediaError", tries=exc.tries)
            yield beam.pvalue.TaggedOutput(FAILED, letter)
            return
        except Exception as exc:  # never drop an upload: an unexpected error is a dead letter too
            yield beam.pvalue.TaggedOutput(FAILED, envelope.dead_letter(Stage.DECODE, exc))
            return
        hash_ms = (time.monotonic() - started) * 1000
        self.hash_ms.update(int(hash_ms))
        if matches:
            self.matched_count.inc()
            yield beam.pvalue.TaggedOutput(MATCHED, self._outcome(envelope, matches, hashed, hash_ms))
            if not self.hashing.also_run_guards:
                return
        yield envelope, hashed.media

    def _hash_and_match(self, envelope: Envelope) -> tuple[HashedMedia, list[Match]]:
        event = envelope.event
        assert event is not None
        found: dict[str, list[Match]] = {}

        def plan(digest: str) -> HashRequest | None:
            cached = self.cache.get(digest)
            if cached is None:
                return HashRequest(self.hashing.seconds_per_hash)
            self.cache_hits.inc()
            found[digest] = self.matcher.match(cached)
            decided = bool(found[digest]) and not self.hashing.also_run_guards
            return None if decided else HashRequest(hash=False)

        hashed = hash_media(
            event.media_uri, self.spec, self.sampling, self.limits, HashRequest(self.hashing.seconds_per_hash),
            decoder=self.decoder, expected_type=event.media_type.value, plan=plan,
        )  # fmt: skip
        if hashed.signal is not None:
            self.cache.put(hashed.content_hash, hashed.signal)
            found[hashed.content_hash] = self.matcher.match(hashed.signal)
        return hashed, found.get(hashed.content_hash, [])

    def _outcome(self, envelope: Envelope, matches: list[Match], hashed: HashedMedia, hash_ms: float) -> Outcome:
        event = envelope.event
        assert event is not None and envelope.policy_set_id is not None
        waited_ms = max((time.time() - envelope.received_at.timestamp()) * 1000, 0.0)
        latency = Latency(decode_ms=hashed.media.decode_s * 1000, hash_ms=hash_ms, total_ms=waited_ms)
        verdict = hash_verdict(event, self.pack.policy_set(envelope.policy_set_id), self.pack, matches, latency)
        log.info("upload_matched_bank", upload_id=event.upload_id, banks=sorted({m.bank for m in matches}))
        return Outcome(envelope=envelope, verdict=verdict)

    def teardown(self) -> None:
        self.decoder.close()


class MatchHashes(beam.PTransform[beam.PCollection[Envelope], HashedUploads]):
    """Hash each routed upload (sampling its frames in the same decode pass) and decide known content from the
    banks; everything else goes on, already sampled, to the guards."""

    def __init__(self, hashing: HashingSettings, sampling: SamplingSettings, limits: LimitSettings,
                 banks: BankSource, pack: PolicyPack, spec: SampleSpec | None = None) -> None:  # fmt: skip
        super().__init__()
        self.fn = _MatchDoFn(hashing, sampling, limits, banks, pack, spec or SampleSpec.from_settings(sampling))

    # Any, not the element type: Beam reads expand's annotations as runtime type hints (checks and coders).
    def expand(self, uploads: beam.PCollection[Any]) -> HashedUploads:
        results = uploads | "HashAndMatch" >> beam.ParDo(self.fn).with_outputs(MATCHED, FAILED, main="unmatched")
        return HashedUploads(matched=results[MATCHED], unmatched=results.unmatched, failed=results[FAILED])


__all__ = ["BankSource", "DeadLetter", "HashedUploads", "MatchHashes", "SignalCache"]
