"""`BackfillSource`: the listing as an `UploadSource` (operators/sinks.py), so a backfill is the stream's graph
with another source. It reads the listing in short bundles, skips what is done, and acknowledges into the ledger.

`read()` is a splittable DoFn over the listing's global indices (one element per shard, index g in shard
g % shards), claiming a chunk per call and deferring the rest, so bundles stay short and every sink writes and
acknowledges as the scan goes (a kill -9 loses only the bundles in flight). Before emitting a chunk it drops
indices the ledger holds (a resume) and uploads whose idempotency key (upload id, policy-set version, guard
version) the lake already holds — journaled as `skipped`, never scored again. A listing failure becomes a dead
letter written by the same sinks. `acknowledge()` journals each durable outcome.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

import apache_beam as beam
from apache_beam.io.restriction_trackers import OffsetRange, OffsetRestrictionTracker
from apache_beam.transforms.core import RestrictionProvider
from apache_beam.utils.timestamp import Duration

from guardstream.operators.envelope import Envelope, Outcome
from guardstream.operators.lake_settings import LakeSettings
from guardstream.operators.sinks import (
    OutcomeTransform,
    OutcomeWriter,
    ReadTransform,
    UploadSource,
    write_and_acknowledge,
)
from guardstream.pipeline.backfill.items import Listed
from guardstream.pipeline.backfill.ledger import AppendFile, DoneRanges, JournalEntry, RunLedger, entry_row
from guardstream.pipeline.backfill.sources import ListingSpec
from guardstream.schemas.dead_letter import Stage
from guardstream.schemas.policy import PolicyPack
from guardstream.schemas.verdict import idempotency_key

MAX_INDEX = 2**62
LISTING_FAILED = "listing_failed"


@dataclass(frozen=True)
class PassSpec:
    """Everything a worker needs for one pass of a run (plain data, picklable)."""

    ledger: RunLedger
    pass_name: str  # main | shadow
    listing: ListingSpec
    pack: PolicyPack
    guard_version: str
    lake: LakeSettings
    catalog_uri: str
    warehouse: str
    shards: int = 1
    limit: int | None = None
    done: DoneRanges = DoneRanges()
    chunk: int = 16
    only_shards: tuple[int, ...] | None = None  # a distributed engine runs a subset of shards per task

    @property
    def shard_ids(self) -> list[int]:
        return list(self.only_shards if self.only_shards is not None else range(self.shards))

    @property
    def topic(self) -> str:
        """Where envelopes say they came from: dead letters keyed by (run, pass, shard, index, stage)."""
        return f"backfill:{self.ledger.run_id}:{self.pass_name}"


def decided_key(payload: bytes, pack: PolicyPack, guard_version: str) -> str | None:
    """The idempotency key this upload would get, or None when it does not parse or route (it fails later)."""
    from guardstream.operators.parse import parse_upload
    from guardstream.operators.route import route

    try:
        event = parse_upload(payload)
        return idempotency_key(event.upload_id, route(event, pack).version, guard_version)
    except Exception:
        return None


class Admission:
    """Per worker: turns a chunk of listed entries into envelopes to score, journaling what the lake already holds."""

    def __init__(self, spec: PassSpec) -> None:
        from guardstream.operators.lake import Lake

        self.spec = spec
        self.lake = Lake.open(spec.lake, uri=spec.catalog_uri, warehouse=spec.warehouse)
        self.lake.ensure_tables()
        self.journal = spec.ledger.writer(spec.pass_name)
        self.catalogue = spec.ledger.writer(spec.pass_name, "uploads") if spec.pass_name == "main" else None

    def admit(self, chunk: list[tuple[int, int, Listed]]) -> Iterator[Envelope | Outcome]:
        """Envelopes to score, and listing failures as dead-letter outcomes; skipped items are journaled here."""
        keys = {g: decided_key(item.payload, self.spec.pack, self.spec.guard_version) for g, _, item in chunk}
        held = self._committed_runs([k for k in keys.values() if k])
        skipped = [JournalEntry(g, "skipped", item.upload_id, keys[g], r=held[cast(str, keys[g])] or None)
                   for g, _, item in chunk if keys[g] in held]  # fmt: skip
        self.journal.append(entry_row(e) for e in skipped)
        if self.catalogue is not None:
            self.catalogue.append({"upload_id": i.upload_id, "payload": i.payload.decode(errors="replace")}
                                  for _, _, i in chunk if i.upload_id and not i.error)  # fmt: skip
        for g, shard, item in chunk:
            envelope = Envelope(payload=item.payload, topic=self.spec.topic, partition=shard, offset=g)
            if item.error is not None:
                yield Outcome.failed(envelope.dead_letter(Stage.FETCH, item.error, item.error_class), envelope)
            elif keys[g] not in held:
                yield envelope

    def _committed_runs(self, keys: list[str]) -> dict[str, str]:
        """Keys the lake holds → the run that decided each ('' for the stream)."""
        if not keys:
            return {}
        from pyiceberg.expressions import In

        scan = self.lake.verdicts().scan(row_filter=In("idempotency_key", set(keys)),
                                         selected_fields=("idempotency_key", "run_id"))  # fmt: skip
        return {row["idempotency_key"]: row["run_id"] or "" for row in scan.to_arrow().to_pylist()}

    def close(self) -> None:
        self.journal.close()
        if self.catalogue is not None:
            self.catalogue.close()


def shard_entries(spec: PassSpec, shard: int, start: int) -> Iterator[tuple[int, Listed]]:
    """(global index, entry) of one shard from `start` on, stopping at the limit."""
    for g, item in enumerate(spec.listing.entries()):
        if spec.limit is not None and g >= spec.limit:
            return
        if g >= start and g % spec.shards == shard:
            yield g, item


class _ListShardFn(beam.DoFn, RestrictionProvider):
    def __init__(self, spec: PassSpec) -> None:
        self.spec = spec

    def initial_restriction(self, shard: int) -> OffsetRange:
        return OffsetRange(0, MAX_INDEX)

    def create_tracker(self, restriction: OffsetRange) -> OffsetRestrictionTracker:
        return OffsetRestrictionTracker(restriction)

    def restriction_size(self, shard: int, restriction: OffsetRange) -> int:
        return 1

    def split(self, shard: int, restriction: OffsetRange) -> Iterator[OffsetRange]:
        yield restriction  # one reader per shard keeps its indices in order

    def setup(self) -> None:
        self.admission = Admission(self.spec)
        self.cursors: dict[int, tuple[int, Iterator[tuple[int, Listed]]]] = {}

    def teardown(self) -> None:
        self.admission.close()

    def _cursor(self, shard: int, start: int) -> Iterator[tuple[int, Listed]]:
        position, entries = self.cursors.get(shard, (-1, iter(())))
        if position != start:  # first call, or the runner moved the restriction: re-open the listing there
            entries = shard_entries(self.spec, shard, start)
        return entries

    def process(
        self,
        shard: int,
        tracker: OffsetRestrictionTracker = beam.DoFn.RestrictionParam(),  # type: ignore[assignment]  # noqa: B008
    ) -> Iterator[Any]:
        entries = self._cursor(shard, tracker.current_restriction().start)
        chunk: list[tuple[int, int, Listed]] = []
        for g, item in entries:
            if not tracker.try_claim(g):
                return
            if g not in self.spec.done:
                chunk.append((g, shard, item))
            if len(chunk) >= self.spec.chunk:
                self.cursors[shard] = (g + 1, entries)
                yield from self._emit(chunk)
                tracker.defer_remainder(Duration.of(0))  # type: ignore[attr-defined]  # on Beam's tracker view
                return
        yield from self._emit(chunk)
        tracker.try_claim(MAX_INDEX)  # the listing is exhausted: claim past the end, the restriction is done

    def _emit(self, chunk: list[tuple[int, int, Listed]]) -> Iterator[Any]:
        for element in self.admission.admit(chunk):
            yield beam.pvalue.TaggedOutput(LISTING_FAILED, element) if isinstance(element, Outcome) else element


class _JournalFn(beam.DoFn):
    def __init__(self, ledger: RunLedger, pass_name: str) -> None:
        self.ledger, self.pass_name = ledger, pass_name

    def setup(self) -> None:
        self.journal: AppendFile = self.ledger.writer(self.pass_name)

    def start_bundle(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def process(self, outcome: Outcome) -> Iterator[Outcome]:
        self.rows.append(entry_row(journal_entry(outcome)))
        yield outcome

    def finish_bundle(self) -> None:
        self.journal.append(self.rows)
        self.rows = []

    def teardown(self) -> None:
        self.journal.close()


def journal_entry(outcome: Outcome) -> JournalEntry:
    g = int(outcome.envelope.offset if outcome.envelope.offset is not None else -1)
    if outcome.verdict is not None:
        v = outcome.verdict
        return JournalEntry(g, "verdict", v.upload_id, v.idempotency_key, bool(v.flagged), v.action.value)
    assert outcome.dead_letter is not None
    return JournalEntry(g, "dead_letter", outcome.dead_letter.upload_id)


class BackfillSource(UploadSource):
    """A listing as upload envelopes; outcomes acknowledged into the run's journal."""

    name = "backfill"

    def __init__(self, spec: PassSpec, sinks: list[OutcomeWriter]) -> None:
        self.spec, self.sinks = spec, sinks

    def read(self) -> ReadTransform:
        @beam.ptransform_fn
        def read_listing(pbegin: beam.pvalue.PBegin) -> beam.PCollection[Any]:
            shards = pbegin | "Shards" >> beam.Create(self.spec.shard_ids)
            listed = shards | "List" >> beam.ParDo(_ListShardFn(self.spec)).with_outputs(LISTING_FAILED, main="env")
            _ = listed[LISTING_FAILED] | "WriteListingFailed" >> write_and_acknowledge(self, self.sinks)
            envelopes: beam.PCollection[Any] = listed.env
            return envelopes

        return read_listing()

    def acknowledge(self) -> OutcomeTransform:
        return beam.ParDo(_JournalFn(self.spec.ledger, self.spec.pass_name))
