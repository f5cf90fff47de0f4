"""The cost of a durable broker: tansu on S3 (SeaweedFS) vs tansu in memory, same records, same run; and how a
partition's batch count slows consumers on S3, before and after a retention sweep.

Starts its own SeaweedFS and two tansu brokers in a temp folder (loopback), so it needs no running stack.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from guardstream.pipeline.settings import Settings

TOPIC = "bench"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--records", type=int, default=5000, help="records produced (batched) per storage")
    parser.add_argument("--record-bytes", type=int, default=1024)
    parser.add_argument("--batches", type=int, default=2000, help="one-record batches for the batch-count test")


@contextmanager
def _brokers(settings: Settings, home: Path) -> Iterator[tuple[dict[str, str], Any]]:
    """A SeaweedFS, a tansu on it and a tansu in memory; yields ({storage: bootstrap}, store settings)."""
    from guardstream.pipeline.broker import tansu_command
    from guardstream.pipeline.objectstore_server import PORT_NAMES, ObjectStoreServer
    from guardstream.pipeline.processes import free_port, port_open, spawn, stop_process_group, wait

    server = ObjectStoreServer(home, settings.objectstore)
    ports = {name: free_port() for name in PORT_NAMES}
    pids = [spawn("objectstore", server.argv(ports), home / "objectstore.log")]
    try:
        wait(lambda: server.ensure_buckets(ports["s3"]), 90, "bench object store")
        store = server.client_settings(ports["s3"])
        bootstraps = {}
        for storage in ("s3", "memory"):
            port = free_port()
            broker = settings.broker.model_copy(update={"storage": storage})
            argv, env = tansu_command(broker, port, store)
            pids.append(spawn(f"tansu-{storage}", argv, home / f"tansu-{storage}.log", env))
            wait(partial(port_open, port), 30, f"tansu ({storage})")
            bootstraps[storage] = f"127.0.0.1:{port}"
        yield bootstraps, store
    finally:
        for pid in reversed(pids):
            stop_process_group(pid, grace_s=5)


def _produce(bootstrap: str, topic: str, count: int, size: int, batched: bool) -> float:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5 if batched else 0)
    value = b"x" * size
    start = time.perf_counter()
    for _ in range(count):
        producer.send(topic, value, partition=0)
        if not batched:
            producer.flush()
    producer.flush()
    elapsed = time.perf_counter() - start
    producer.close()
    return count / elapsed


def _consume(bootstrap: str, topic: str, count: int) -> float:
    from kafka import KafkaConsumer, TopicPartition

    tp = TopicPartition(topic, 0)
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=500)
    consumer.assign([tp])
    consumer.seek(tp, 0)
    got, start = 0, time.perf_counter()
    while got < count and time.perf_counter() - start < 300:
        got += len(consumer.poll(timeout_ms=500).get(tp, []))
    elapsed = time.perf_counter() - start
    consumer.close()
    return got / elapsed


def _tail_read_msg_s(bootstrap: str, topic: str, records: int = 100) -> float:
    """Rate of reading the last `records` one-record batches, one batch per fetch (max_partition_fetch_bytes=1):
    each fetch pays tansu's listing of the whole partition, so this is a live consumer's rate at this size."""
    from kafka import KafkaConsumer, TopicPartition

    from guardstream.operators.kafka_admin import fetched_high_watermarks

    tp = TopicPartition(topic, 0)
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=500, max_partition_fetch_bytes=1
    )
    end = fetched_high_watermarks(consumer, [tp])[tp]
    consumer.seek(tp, end - records)
    got, start = 0, time.perf_counter()
    while got < records:
        got += len(consumer.poll(timeout_ms=1000).get(tp, []))
    elapsed = time.perf_counter() - start
    consumer.close()
    return round(records / elapsed, 1)


def _batch_count_effect(settings: Settings, bootstrap: str, store: Any, batches: int) -> dict[str, Any]:
    """Tail-read rate at 100 and at `batches` one-record batches, then after a retention sweep that caps the
    partition at 100 batches; and the full-partition consume rate at `batches`."""
    from guardstream.operators.kafka_admin import ensure_topics, high_watermarks
    from guardstream.operators.objectstore import S3Client
    from guardstream.pipeline.broker_retention import sweep_topic

    out: dict[str, Any] = {}
    ensure_topics(bootstrap, ["aged"], 1, {})
    _produce(bootstrap, "aged", 100, 64, batched=False)
    out["tail_read_msg_s_at_100_batches"] = _tail_read_msg_s(bootstrap, "aged")
    _produce(bootstrap, "aged", batches - 100, 64, batched=False)
    out[f"tail_read_msg_s_at_{batches}_batches"] = _tail_read_msg_s(bootstrap, "aged")
    out[f"consume_msg_s_at_{batches}_batches"] = round(_consume(bootstrap, "aged", batches), 1)
    policy = settings.broker.model_copy(update={"retention_max_batches": 100})
    swept = sweep_topic(S3Client(store), store.broker_bucket, "aged", high_watermarks(bootstrap, "aged", {}), policy)
    out["batches_after_sweep"] = swept[0][1]
    out["tail_read_msg_s_after_sweep"] = _tail_read_msg_s(bootstrap, "aged")
    out[f"tail_read_{batches}_over_100_batches"] = round(
        out[f"tail_read_msg_s_at_{batches}_batches"] / out["tail_read_msg_s_at_100_batches"], 2
    )
    out["tail_read_after_sweep_over_100_batches"] = round(
        out["tail_read_msg_s_after_sweep"] / out["tail_read_msg_s_at_100_batches"], 2
    )
    return out


def run(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    from guardstream.operators.kafka_admin import ensure_topics

    result: dict[str, Any] = {"records": args.records, "record_bytes": args.record_bytes}
    with tempfile.TemporaryDirectory(prefix="gs-bench-") as tmp, _brokers(settings, Path(tmp)) as (brokers, store):
        for storage, bootstrap in brokers.items():
            ensure_topics(bootstrap, [TOPIC], 1, {})
            rate = _produce(bootstrap, TOPIC, args.records, args.record_bytes, batched=True)
            result[f"produce_msg_s_{storage}"] = round(rate, 1)
            result[f"consume_msg_s_{storage}"] = round(_consume(bootstrap, TOPIC, args.records), 1)
        for kind in ("produce", "consume"):
            result[f"{kind}_s3_over_memory"] = round(result[f"{kind}_msg_s_s3"] / result[f"{kind}_msg_s_memory"], 3)
        result |= _batch_count_effect(settings, brokers["s3"], store, args.batches)
    return result
