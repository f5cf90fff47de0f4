"""Topic administration with kafka-python (used by the local stack and by tests)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError, TopicAlreadyExistsError


def admin_client(bootstrap: str, client_config: Mapping[str, object], timeout_s: float = 30.0) -> KafkaAdminClient:
    """An admin client, retrying while the broker finishes starting."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return KafkaAdminClient(bootstrap_servers=bootstrap, client_id="guardstream-admin", **client_config)
        except (KafkaConnectionError, KafkaTimeoutError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def ensure_topics(
    bootstrap: str,
    topics: Iterable[str],
    partitions: int,
    client_config: Mapping[str, object],
    timeout_s: float = 30.0,
) -> list[str]:
    """Create the topics that do not exist yet; return the ones created. Idempotent. `timeout_s`: how long to
    wait for the broker to answer (a broker restarted with its object store takes longer on a busy host)."""
    admin = admin_client(bootstrap, client_config, timeout_s)
    try:
        existing = set(admin.list_topics())
        missing = [t for t in topics if t not in existing]
        if missing:
            new = [NewTopic(name=t, num_partitions=partitions, replication_factor=1) for t in missing]
            try:
                admin.create_topics(new, validate_only=False)
            except TopicAlreadyExistsError:
                pass
            except KafkaError as exc:
                if "TopicAlreadyExists" not in repr(exc):
                    raise
        return missing
    finally:
        admin.close()


# Consumer-group timeouts for this broker: tansu holds a JoinGroup for half the session timeout (23 s at the
# 45 s default, over a minute after a member died by kill -9), so a group consumer that waits 10 s reads
# nothing. With these a join takes about 3 s. (The streaming source assigns partitions and never joins.)
GROUP_TIMEOUTS: dict[str, int] = {
    "session_timeout_ms": 6000,
    "heartbeat_interval_ms": 2000,
    "max_poll_interval_ms": 10000,
}


def fetched_high_watermarks(consumer: Any, partitions: Sequence[Any], timeout_s: float = 10.0) -> dict[Any, int]:
    """Each partition's end offset as the broker's fetch responses carry it (the consumer is re-assigned).

    Never ListOffsets: tansu on S3 answers "latest" with the first offset + 1 of the batch with the newest
    modification time (e.g. 1 for one batch of 100 records), so `end_offsets`, `seek_to_end` and lag computed
    from them are wrong. A fetch from the earliest offset returns the true high watermark, even when empty.
    """
    consumer.assign(list(partitions))
    consumer.seek_to_beginning(*partitions)
    deadline = time.monotonic() + timeout_s
    while any(consumer.highwater(tp) is None for tp in partitions):
        if time.monotonic() > deadline:
            raise KafkaTimeoutError(f"no fetch response with a high watermark within {timeout_s:.0f}s")
        consumer.poll(timeout_ms=200, max_records=1)
    return {tp: int(consumer.highwater(tp)) for tp in partitions}


def high_watermarks(
    bootstrap: str, topic: str, client_config: Mapping[str, object], timeout_s: float = 10.0
) -> dict[int, int]:
    """End offset of every partition of `topic`, from fetch responses (see `fetched_high_watermarks`)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_bytes=1024, max_partition_fetch_bytes=1024,
        **client_config,
    )  # fmt: skip
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        return {tp.partition: high for tp, high in fetched_high_watermarks(consumer, partitions, timeout_s).items()}
    finally:
        consumer.close()


def committed_offsets(bootstrap: str, topic: str, group_id: str, client_config: Mapping[str, object]) -> dict[int, int]:
    """The group's committed offset per partition of `topic` (0 where it has committed nothing)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group_id, enable_auto_commit=False, **client_config)
    try:
        partitions = sorted(consumer.partitions_for_topic(topic) or ())
        return {p: int(consumer.committed(TopicPartition(topic, p)) or 0) for p in partitions}
    finally:
        consumer.close()
