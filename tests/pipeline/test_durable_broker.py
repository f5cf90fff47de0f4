"""tansu on the stack's S3 store: a crash of broker and store loses no topic, record or committed offset; and
the three traps of this broker (BRIEF §8), each with a test that fails when its workaround is removed."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
import uuid
from typing import Any

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata

from guardstream.operators.kafka_admin import GROUP_TIMEOUTS, ensure_topics, high_watermarks
from guardstream.operators.kafka_source import PartitionSpec, start_offset
from guardstream.operators.objectstore import S3Client
from guardstream.pipeline.stack import LocalStack, StackState, kill_group

pytestmark = [pytest.mark.kafka]


def _topic(local_stack: LocalStack, partitions: int = 1) -> tuple[str, str]:
    bootstrap = local_stack.status()["kafka_bootstrap"]
    topic = f"durable-{uuid.uuid4().hex[:8]}"
    ensure_topics(bootstrap, [topic], partitions, {})
    return bootstrap, topic


def _produce(bootstrap: str, topic: str, values: list[bytes], partition: int = 0) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=50)
    for value in values:
        producer.send(topic, value, partition=partition)
    producer.flush()
    producer.close()


def _read_all(bootstrap: str, topic: str, partition: int, count: int, **config: Any) -> list[bytes]:
    tp = TopicPartition(topic, partition)
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, **config)
    consumer.assign([tp])
    consumer.seek_to_beginning(tp)
    values: list[bytes] = []
    deadline = time.monotonic() + 30
    while len(values) < count and time.monotonic() < deadline:
        values += [r.value for r in consumer.poll(timeout_ms=500).get(tp, [])]
    consumer.close()
    return values


def _digest(values: list[bytes]) -> str:
    return hashlib.sha256(b"\n".join(values)).hexdigest()


def test_kill_9_of_broker_and_store_keeps_topics_records_and_committed_offsets(local_stack: LocalStack) -> None:
    bootstrap, topic = _topic(local_stack, partitions=2)
    values = [f"record-{i}".encode() for i in range(300)]
    _produce(bootstrap, topic, values[:150], partition=0)
    _produce(bootstrap, topic, values[150:], partition=1)
    committer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=f"g-{topic}", enable_auto_commit=False)
    committer.commit({TopicPartition(topic, 0): OffsetAndMetadata(120, "", -1)})
    committer.close()

    before = StackState.load(local_stack.home).components
    for name in ("kafka", "objectstore"):
        kill_group(before[name].pid)
    assert local_stack.up()["healthy"]
    after = StackState.load(local_stack.home).components
    assert after["kafka"].pid != before["kafka"].pid and after["objectstore"].pid != before["objectstore"].pid
    assert after["kafka"].ports == before["kafka"].ports

    assert _digest(_read_all(bootstrap, topic, 0, 150)) == _digest(values[:150])
    assert _digest(_read_all(bootstrap, topic, 1, 150)) == _digest(values[150:])
    assert high_watermarks(bootstrap, topic, {}) == {0: 150, 1: 150}
    reader = KafkaConsumer(bootstrap_servers=bootstrap, group_id=f"g-{topic}", enable_auto_commit=False)
    assert reader.committed(TopicPartition(topic, 0)) == 120
    reader.close()


def test_latest_offset_comes_from_fetch_responses_not_list_offsets(local_stack: LocalStack) -> None:
    """Trap 1: ListOffsets "latest" answers the first offset + 1 of the newest-modified batch (1 here)."""
    bootstrap, topic = _topic(local_stack)
    _produce(bootstrap, topic, [b"a"] * 100)  # one batch of 100 records
    time.sleep(1.2)  # S3 modification times have 1 s resolution: the next batch is strictly newer
    _produce(bootstrap, topic, [b"b"] * 30)
    assert high_watermarks(bootstrap, topic, {}) == {0: 130}
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    assert start_offset(consumer, PartitionSpec(topic, 0), "latest") == 130
    consumer.close()


JOINER = """
import sys, time
from kafka import KafkaConsumer
from guardstream.operators.kafka_admin import GROUP_TIMEOUTS
c = KafkaConsumer(sys.argv[2], bootstrap_servers=sys.argv[1], group_id=sys.argv[3], auto_offset_reset="earliest",
                  enable_auto_commit=False, **GROUP_TIMEOUTS)
while not c.poll(timeout_ms=500):
    pass
print("joined", flush=True)
time.sleep(600)
"""


def test_group_consumer_joins_within_its_poll_budget_after_a_member_was_killed(local_stack: LocalStack) -> None:
    """Trap 2: tansu holds JoinGroup for half the session timeout; with the default 45 s (and a member that
    died by kill -9) a consumer that polls for 20 s reads nothing. GROUP_TIMEOUTS keeps joins to seconds."""
    bootstrap, topic = _topic(local_stack)
    _produce(bootstrap, topic, [b"x"] * 10)
    group = f"g-{topic}"
    member = subprocess.Popen([sys.executable, "-c", JOINER, bootstrap, topic, group], stdout=subprocess.PIPE)
    try:
        assert member.stdout is not None and member.stdout.readline().strip() == b"joined"
    finally:
        member.kill()  # SIGKILL: the member never leaves the group
        member.wait(10)
    consumer = KafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest", enable_auto_commit=False,
        **GROUP_TIMEOUTS,
    )  # fmt: skip
    read, deadline = 0, time.monotonic() + 20
    while not read and time.monotonic() < deadline:
        read = sum(len(records) for records in consumer.poll(timeout_ms=500).values())
    consumer.close()
    assert read == 10


def test_every_bucket_and_new_ones_take_writes(local_stack: LocalStack) -> None:
    """Trap 3: `weed server` allows 8 volumes by default and each bucket takes 7, so the third bucket's first
    write fails with HTTP 500 (tansu logs nothing; kafka-python says only "Unable to decode response")."""
    store = local_stack.object_store()
    assert store is not None
    client = S3Client(store)
    spares = [f"spare-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    for bucket in (*local_stack.store_server.buckets(), *spares):
        client.create_bucket(bucket)
        client.put(bucket, "probe/object", b"payload")
        assert client.get(bucket, "probe/object") == b"payload"
        client.delete(bucket, "probe/object")
