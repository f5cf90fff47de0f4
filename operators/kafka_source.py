"""Kafka source as a Python splittable DoFn: one element per (topic, partition), offsets as the restriction.

No cross-language I/O (the Java `ReadFromKafka` needs a Maven jar; on Flink / Dataflow swap in
`apache_beam.io.kafka.ReadFromKafka` — see docs/architecture.md). Partitions are assigned explicitly, so no
consumer-group join happens; the group id is used only to read the committed start offset, which
`CommitOffsets` (operators/kafka_sink.py) advances once an upload's verdict or dead letter is durable.

Stopping is cooperative: when the stop file exists, every partition claims the end of its range and returns.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import apache_beam as beam
from apache_beam.io.restriction_trackers import OffsetRange, OffsetRestrictionTracker
from apache_beam.transforms.core import RestrictionProvider
from apache_beam.utils.shared import Shared
from apache_beam.utils.timestamp import Duration

from guardstream.operators import metrics, offsets
from guardstream.operators.envelope import ATTEMPTS_HEADER, Envelope
from guardstream.operators.kafka_admin import fetched_high_watermarks

MAX_OFFSET = 2**62


@dataclass(frozen=True)
class KafkaSourceConfig:
    """Everything a worker needs to read: plain data, picklable, no secrets beyond client settings."""

    bootstrap_servers: str
    topic: str
    group_id: str
    client_config: tuple[tuple[str, Any], ...] = ()
    stop_file: str | None = None
    poll_window_s: float = 0.25
    max_records_per_poll: int = 64
    start_from: str = "committed"  # committed (else earliest) | earliest | latest
    discover_partitions_s: float = 5.0  # how often a slot whose partition does not exist yet looks again
    max_partitions: int = 64  # reader slots: partitions 0..max-1 are read, existing now or added later


@dataclass(frozen=True)
class PartitionSpec:
    topic: str
    partition: int


def _consumer(config: KafkaSourceConfig) -> Any:
    from kafka import KafkaConsumer

    return KafkaConsumer(
        bootstrap_servers=config.bootstrap_servers,
        group_id=config.group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        client_id=f"guardstream-source-{config.group_id}",
        **dict(config.client_config),
    )


def start_offset(consumer: Any, spec: PartitionSpec, start_from: str) -> int:
    """Where a partition's restriction starts: the group's committed offset, else the earliest one; "latest"
    is the high watermark of a fetch response (never ListOffsets, which tansu on S3 answers wrongly)."""
    from kafka import TopicPartition

    tp = TopicPartition(spec.topic, spec.partition)
    if start_from == "latest":
        return fetched_high_watermarks(consumer, [tp])[tp]
    if start_from == "committed":
        committed = consumer.committed(tp)
        if committed is not None:
            return int(committed)
    return int(consumer.beginning_offsets([tp])[tp])


def list_partitions(config: KafkaSourceConfig) -> list[PartitionSpec]:
    consumer = _consumer(config)
    try:
        partitions = consumer.partitions_for_topic(config.topic)
        if not partitions:
            raise ValueError(f"topic {config.topic!r} does not exist or has no partitions")
        return [PartitionSpec(config.topic, p) for p in sorted(partitions)]
    finally:
        consumer.close()


class PartitionLimitError(RuntimeError):
    """The topic has more partitions than the source has reader slots: fail loudly rather than leave some unread."""

    def __init__(self, config: KafkaSourceConfig, count: int) -> None:
        super().__init__(
            f"topic {config.topic!r} has {count} partitions but the source reads at most {config.max_partitions}: "
            "raise kafka.max_partitions and restart the job"
        )


def _stop_requested(config: KafkaSourceConfig) -> bool:
    return bool(config.stop_file) and Path(str(config.stop_file)).exists()


class _ReadPartitionFn(beam.DoFn, RestrictionProvider):
    """Reads one partition slot per element; the DoFn is its own restriction provider (offset ranges).

    A slot whose partition does not exist yet waits (it looks again every `discover_partitions_s`, one listing
    per worker for all slots) and reads the partition from offset 0 once the topic grows to include it.
    """

    def __init__(self, config: KafkaSourceConfig, progress: Shared | None) -> None:
        self.config = config
        self.progress = progress
        self._consumers: dict[PartitionSpec, Any] = {}
        self._listed: tuple[float, frozenset[int]] = (0.0, frozenset())

    # ---- restriction provider -------------------------------------------------------------------
    def initial_restriction(self, element: PartitionSpec) -> OffsetRange:
        if element.partition not in self._partitions():
            return OffsetRange(0, MAX_OFFSET)  # added later: everything in it is new to this job
        consumer = _consumer(self.config)
        try:
            return OffsetRange(start_offset(consumer, element, self.config.start_from), MAX_OFFSET)
        finally:
            consumer.close()

    def _partitions(self) -> frozenset[int]:
        """The topic's partitions, listed at most every `discover_partitions_s` (at once in a new worker)."""
        listed_at, known = self._listed
        if not known or time.monotonic() - listed_at >= self.config.discover_partitions_s:
            known = frozenset(spec.partition for spec in list_partitions(self.config))
            if len(known) > self.config.max_partitions:
                raise PartitionLimitError(self.config, len(known))
            self._listed = (time.monotonic(), known)
        return known

    def create_tracker(self, restriction: OffsetRange) -> OffsetRestrictionTracker:
        return OffsetRestrictionTracker(restriction)

    def restriction_size(self, element: PartitionSpec, restriction: OffsetRange) -> int:
        return 1  # unbounded: the size is unknown

    def split(self, element: PartitionSpec, restriction: OffsetRange) -> Iterator[OffsetRange]:
        yield restriction  # one reader per partition keeps offsets in order

    def truncate(self, element: PartitionSpec, restriction: OffsetRange) -> None:
        return None  # on drain, stop reading

    # ---- reading ----------------------------------------------------------------------------------

    def setup(self) -> None:
        self._consumers = {}
        self._ledger = (
            offsets.acquire(self.progress, partial(_consumer, self.config), self.config.topic)
            if self.progress
            else None
        )

    def teardown(self) -> None:
        for consumer in self._consumers.values():
            consumer.close()
        self._consumers = {}

    @beam.DoFn.unbounded_per_element()
    def process(
        self,
        element: PartitionSpec,
        tracker: OffsetRestrictionTracker = beam.DoFn.RestrictionParam(),  # type: ignore[assignment]  # noqa: B008
    ) -> Iterator[Envelope]:
        from kafka import TopicPartition

        restriction = tracker.current_restriction()
        if _stop_requested(self.config):
            tracker.try_claim(restriction.stop)  # claims past the end: the restriction is done
            return
        if element.partition not in self._partitions():
            tracker.defer_remainder(Duration.of(self.config.discover_partitions_s))  # type: ignore[attr-defined]
            return
        tp = TopicPartition(element.topic, element.partition)
        consumer = self._consumers.get(element)
        if consumer is None:
            consumer = self._consumers[element] = _consumer(self.config)
            consumer.assign([tp])
        if consumer.position(tp) != restriction.start:  # a seek would drop records already fetched
            consumer.seek(tp, restriction.start)
        deadline = time.monotonic() + self.config.poll_window_s
        while time.monotonic() < deadline:
            batch = consumer.poll(timeout_ms=50, max_records=self.config.max_records_per_poll).get(tp, [])
            for record in batch:
                if not tracker.try_claim(record.offset):
                    return
                if self._ledger is not None:
                    self._ledger.read(tp.partition, record.offset)
                yield Envelope(
                    payload=record.value or b"", topic=tp.topic, partition=tp.partition, offset=record.offset,
                    prior_attempts=prior_attempts(record.headers),
                )  # fmt: skip
            if batch:
                break  # end the bundle soon after data so downstream sinks flush promptly
        _record_lag(consumer, tp)
        tracker.defer_remainder(Duration.of(0.05))  # type: ignore[attr-defined]  # on Beam's tracker view, not the class


def prior_attempts(headers: list[tuple[str, bytes | None]] | None) -> int:
    """Tries an earlier delivery made (the replay's ATTEMPTS_HEADER); 0 when absent or unreadable."""
    for key, value in headers or ():
        if key == ATTEMPTS_HEADER and value:
            try:
                return max(0, min(int(value.decode("ascii")), 1_000_000))
            except (UnicodeDecodeError, ValueError):
                return 0
    return 0


def _record_lag(consumer: Any, tp: Any) -> None:
    """Records in the partition this consumer has not read yet: the fetch responses' high watermark minus the
    consumer's position (never ListOffsets, which this broker answers wrongly — BRIEF §8)."""
    high = consumer.highwater(tp)
    if high is not None:
        lag = max(0, high - consumer.position(tp))
        metrics.set_gauge("guardstream_consumer_lag", lag, topic=tp.topic, partition=str(tp.partition))


class ReadUploads(beam.PTransform[beam.pvalue.PBegin, beam.PCollection[Envelope]]):
    """Read raw upload events from every partition of a topic as Envelopes (unbounded).

    Give the same `progress` handle to every `CommitOffsets` of the job: the source records what it read there.
    The topic must exist when the graph is built. The job holds a reader slot for each of partitions
    0..`max_partitions`-1: a slot whose partition is added later starts reading it (from offset 0) within
    `discover_partitions_s`, without a restart. (Slots rather than a partition-watching step feeding the
    readers: FnApiRunner does not resume a second splittable DoFn in one fused stage.)
    """

    def __init__(self, config: KafkaSourceConfig, progress: Shared | None = None) -> None:
        super().__init__()
        self.config = config
        self.progress = progress

    def expand(self, pbegin: beam.pvalue.PBegin) -> beam.PCollection[Envelope]:
        existing = list_partitions(self.config)  # fail at build time, not in a worker: missing topic, too many
        if len(existing) > self.config.max_partitions:
            raise PartitionLimitError(self.config, len(existing))
        slots = [PartitionSpec(self.config.topic, p) for p in range(self.config.max_partitions)]
        envelopes: beam.PCollection[Envelope] = (
            pbegin
            | "PartitionSlots" >> beam.Create(slots)
            | "ReadPartitions" >> beam.ParDo(_ReadPartitionFn(self.config, self.progress))
        )
        return envelopes
