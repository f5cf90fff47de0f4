"""Topic administration with kafka-python (used by the local stack and by tests)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

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
    bootstrap: str, topics: Iterable[str], partitions: int, client_config: Mapping[str, object]
) -> list[str]:
    """Create the topics that do not exist yet; return the ones created. Idempotent."""
    admin = admin_client(bootstrap, client_config)
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
