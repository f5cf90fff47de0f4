"""The Kafka source on the real broker: reader slots for partitions that do not exist yet wait without cost,
existing partitions read as before, and a topic over the slot limit fails at build time.

tansu answers CreatePartitions with "unsupported" (checked below), so the moment a topic grows cannot be made
on this broker; the slot's reaction to a growing listing is driven through the DoFn with a grown listing.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import apache_beam as beam
import pytest
from apache_beam.io.restriction_trackers import OffsetRange, OffsetRestrictionTracker
from apache_beam.runners.sdf_utils import RestrictionTrackerView, ThreadsafeRestrictionTracker
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewPartitions
from kafka.errors import IncompatibleBrokerVersion

from guardstream.operators import kafka_source
from guardstream.operators.envelope import Envelope
from guardstream.operators.kafka_admin import ensure_topics
from guardstream.operators.kafka_source import (
    KafkaSourceConfig,
    PartitionLimitError,
    PartitionSpec,
    ReadUploads,
)
from guardstream.pipeline.stack import LocalStack

pytestmark = pytest.mark.kafka

SEEN: list[tuple[int, bytes]] = []  # (partition, payload) read by the running job (FnApiRunner runs in-process)


class _Record(beam.DoFn):
    def process(self, envelope: Envelope) -> Iterator[None]:
        SEEN.append((int(envelope.partition or 0), envelope.payload))
        return iter(())


def _wait_for(predicate: Any, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def _view(restriction: OffsetRange) -> Any:
    """The tracker as a runner hands it to `process` (the view is where `defer_remainder` lives)."""
    return RestrictionTrackerView(ThreadsafeRestrictionTracker(OffsetRestrictionTracker(restriction)))


@pytest.fixture()
def topic(local_stack: LocalStack) -> tuple[str, str]:
    bootstrap = local_stack.status()["kafka_bootstrap"]
    name = f"test-slots-{uuid.uuid4().hex[:8]}"
    ensure_topics(bootstrap, [name], 2, {})
    return bootstrap, name


def test_idle_slots_wait_while_existing_partitions_are_read(topic: tuple[str, str], tmp_path: Path) -> None:
    bootstrap, name = topic
    stop = tmp_path / "stop"
    config = KafkaSourceConfig(bootstrap, name, f"g-{name}", stop_file=str(stop), discover_partitions_s=0.5,
                               max_partitions=6)  # fmt: skip
    SEEN.clear()

    def run() -> None:
        with beam.Pipeline(runner="FnApiRunner") as root:
            _ = root | ReadUploads(config) | beam.ParDo(_Record())

    job = threading.Thread(target=run, daemon=True)
    job.start()
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        for i in range(6):
            producer.send(name, value=f"m{i}".encode(), partition=i % 2).get(timeout=30)
        assert _wait_for(lambda: len(SEEN) >= 6, 60), f"read only {SEEN}"
    finally:
        producer.close()
        stop.touch()
        job.join(timeout=60)
    assert not job.is_alive(), "the job did not stop on its stop file (idle slots must stop too)"
    assert sorted(SEEN) == sorted((i % 2, f"m{i}".encode()) for i in range(6))  # each once, none from idle slots


def test_this_broker_cannot_add_partitions(topic: tuple[str, str]) -> None:
    bootstrap, name = topic  # why the growth itself is driven below rather than made on the broker
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        with pytest.raises(IncompatibleBrokerVersion):
            admin.create_partitions({name: NewPartitions(total_count=3)})
    finally:
        admin.close()


def test_a_slot_starts_reading_when_its_partition_appears(
    topic: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    bootstrap, name = topic
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    producer.send(name, value=b"in-partition-1", partition=1).get(timeout=30)
    producer.close()
    config = KafkaSourceConfig(bootstrap, name, f"g-{name}", discover_partitions_s=0.01, max_partitions=4)
    listing = [[PartitionSpec(name, 0)]]  # the topic as first listed: partition 1 not there yet
    real = kafka_source.list_partitions
    monkeypatch.setattr(kafka_source, "list_partitions", lambda c: listing[0])
    fn = kafka_source._ReadPartitionFn(config, None)
    fn.setup()
    try:
        slot = PartitionSpec(name, 1)
        restriction = fn.initial_restriction(slot)
        assert restriction.start == 0  # absent when the job started: read from the start once it exists
        assert list(fn.process(slot, _view(restriction))) == []  # waits: no consumer, no error
        listing[0] = real(config)  # the real, two-partition listing: the topic "grew"
        time.sleep(0.02)
        read: list[bytes] = []
        deadline = time.monotonic() + 30
        while not read and time.monotonic() < deadline:
            read = [e.payload for e in fn.process(slot, _view(restriction))]
        assert read == [b"in-partition-1"]
    finally:
        fn.teardown()


def test_a_topic_over_the_slot_limit_fails_when_the_job_is_built(topic: tuple[str, str]) -> None:
    bootstrap, name = topic
    config = KafkaSourceConfig(bootstrap, name, f"g-{name}", max_partitions=1)
    with pytest.raises(PartitionLimitError, match=r"raise kafka\.max_partitions"):
        _ = beam.Pipeline() | ReadUploads(config)
