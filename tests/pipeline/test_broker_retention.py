"""Broker retention on S3: the policy as a plain function, and a real sweep under a running tansu."""

from __future__ import annotations

import time
import uuid

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from guardstream.operators.kafka_admin import ensure_topics, high_watermarks
from guardstream.operators.objectstore import ObjectInfo, S3Client
from guardstream.pipeline.broker import BrokerSettings
from guardstream.pipeline.broker_retention import parse_batches, records_prefix, sweep_topic, sweepable
from guardstream.pipeline.stack import LocalStack

PREFIX = records_prefix("guardstream", "t", 0)


def _batches(offsets: list[int], modified_at_s: float = 0.0) -> list[ObjectInfo]:
    return [ObjectInfo(f"{PREFIX}{o:020d}.batch", 10, modified_at_s) for o in offsets]


def test_only_fully_consumed_batches_go_and_the_newest_always_stays() -> None:
    batches = parse_batches([*_batches([0, 10, 20, 30]), ObjectInfo(f"{PREFIX}", 0), ObjectInfo("x/watermark.json", 1)])
    assert [b.base_offset for b in batches] == [0, 10, 20, 30]
    policy = BrokerSettings(retention_min_age_s=0)
    assert [b.base_offset for b in sweepable(batches, 25, policy, now_s=100)] == [0, 10]  # 20..29 not all consumed
    assert [b.base_offset for b in sweepable(batches, 10**9, policy, now_s=100)] == [0, 10, 20]  # never the newest
    assert sweepable(batches, 0, policy, now_s=100) == []


def test_young_batches_stay_unless_the_partition_is_over_its_batch_cap() -> None:
    batches = parse_batches(_batches(list(range(0, 200, 10)), modified_at_s=1000.0))
    young = BrokerSettings(retention_min_age_s=3600, retention_max_batches=15)
    doomed = sweepable(batches, 10**9, young, now_s=1001.0)
    assert [b.base_offset for b in doomed] == [0, 10, 20, 30, 40]  # 20 batches → 15
    assert sweepable(batches, 25, young, now_s=1001.0) == [b for b in batches[:2]], "unconsumed ones never go"


@pytest.mark.kafka
def test_sweep_under_a_running_broker_keeps_every_unconsumed_record_readable(local_stack: LocalStack) -> None:
    bootstrap, topic = local_stack.status()["kafka_bootstrap"], f"retention-{uuid.uuid4().hex[:8]}"
    ensure_topics(bootstrap, [topic], 1, {})
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    for i in range(60):
        producer.send(topic, f"r{i}".encode())
        producer.flush()  # one batch per record
    store = local_stack.object_store()
    assert store is not None
    policy = BrokerSettings(retention_min_age_s=0)
    result = sweep_topic(S3Client(store), store.broker_bucket, topic, {0: 50}, policy)
    assert result == {0: (50, 10)}

    tp = TopicPartition(topic, 0)
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest")
    consumer.assign([tp])
    consumer.seek(tp, 0)  # below the earliest batch left: the broker resets to it
    values: list[bytes] = []
    deadline = time.monotonic() + 20
    while len(values) < 10 and time.monotonic() < deadline:
        values += [r.value for r in consumer.poll(timeout_ms=500).get(tp, [])]
    assert values == [f"r{i}".encode() for i in range(50, 60)]
    producer.send(topic, b"after-sweep")
    producer.flush()
    producer.close()
    assert high_watermarks(bootstrap, topic, {}) == {0: 61}
    consumer.close()
