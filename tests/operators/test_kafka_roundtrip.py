"""Produce / consume on the real tansu broker with kafka-python and with kcat as an independent client."""

from __future__ import annotations

import json
import subprocess
import uuid

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from guardstream.operators.kafka_admin import ensure_topics
from guardstream.pipeline.kcat import kcat_argv_env
from guardstream.pipeline.stack import LocalStack

pytestmark = pytest.mark.kafka


@pytest.fixture()
def topic(local_stack: LocalStack) -> str:
    name = f"test-{uuid.uuid4().hex[:8]}"
    ensure_topics(local_stack.status()["kafka_bootstrap"], [name], 1, {})
    return name


def _consume_all(bootstrap: str, topic: str, expected: int) -> list[tuple[bytes | None, bytes]]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, consumer_timeout_ms=5000, enable_auto_commit=False)
    tp = TopicPartition(topic, 0)
    consumer.assign([tp])
    consumer.seek_to_beginning(tp)
    out: list[tuple[bytes | None, bytes]] = []
    for message in consumer:
        out.append((message.key, message.value))
        if len(out) >= expected:
            break
    consumer.close()
    return out


def test_kafka_python_round_trip(local_stack: LocalStack, topic: str) -> None:
    bootstrap = local_stack.status()["kafka_bootstrap"]
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    sent = [(f"k{i}".encode(), json.dumps({"i": i}).encode()) for i in range(20)]
    for key, value in sent:
        producer.send(topic, key=key, value=value, partition=0)
    producer.flush()
    producer.close()
    assert _consume_all(bootstrap, topic, len(sent)) == sent


def test_topics_created_with_configured_partitions(local_stack: LocalStack) -> None:
    status = local_stack.status()
    consumer = KafkaConsumer(bootstrap_servers=status["kafka_bootstrap"])
    try:
        for name in status["topics"].values():
            assert consumer.partitions_for_topic(name) == set(range(status["partitions"]))
    finally:
        consumer.close()


def test_kcat_reads_what_kafka_python_wrote_and_vice_versa(local_stack: LocalStack, topic: str) -> None:
    bootstrap = local_stack.status()["kafka_bootstrap"]
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    producer.send(topic, key=b"from-python", value=b'{"who": "kafka-python"}', partition=0)
    producer.flush()
    producer.close()
    argv, env = kcat_argv_env("-b", bootstrap, "-t", topic, "-p", "0", "-P", "-K", ":")
    subprocess.run(argv, env=env, input=b'from-kcat:{"who": "kcat"}\n', check=True, timeout=30)
    argv, env = kcat_argv_env("-b", bootstrap, "-t", topic, "-C", "-o", "beginning", "-c", "2", "-e", "-f", "%k=%s\\n")
    read = subprocess.run(argv, env=env, capture_output=True, check=True, timeout=30).stdout.decode()
    assert read.splitlines() == ['from-python={"who": "kafka-python"}', 'from-kcat={"who": "kcat"}']
    assert _consume_all(bootstrap, topic, 2)[1] == (b"from-kcat", b'{"who": "kcat"}')
