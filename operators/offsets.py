"""Source-offset progress shared by the Kafka source and every CommitOffsets step of one job.

The source records each offset it hands out (`read`); the sinks' commit steps record each offset whose
outcome is durable (`done`). A partition's committable offset is its lowest read-but-not-done offset, or one
past the last offset read when nothing is in flight. So offsets the consumer never delivers (transaction
markers, compacted or expired records) never block progress, and nothing is committed past an upload still
in flight.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from apache_beam.utils.shared import Shared


@dataclass
class OffsetLedger:
    """Plain bookkeeping (no I/O): per partition, offsets in flight and the next offset to read."""

    pending: dict[int, set[int]] = field(default_factory=dict)
    next_read: dict[int, int] = field(default_factory=dict)
    committed: dict[int, int] = field(default_factory=dict)

    def read(self, partition: int, offset: int) -> None:
        self.pending.setdefault(partition, set()).add(offset)
        self.next_read[partition] = max(self.next_read.get(partition, 0), offset + 1)

    def done(self, partition: int, offset: int) -> None:
        self.pending.get(partition, set()).discard(offset)

    def advance(self) -> dict[int, int]:
        """Partitions whose committable offset moved since the last call, with the new offset."""
        moved = {}
        for partition, next_read in self.next_read.items():
            in_flight = self.pending.get(partition)
            position = min(in_flight) if in_flight else next_read
            if position > self.committed.get(partition, -1):
                self.committed[partition] = moved[partition] = position
        return moved


class CommitState:
    """The ledger of one job in this process, with the consumer that commits the group's offsets."""

    def __init__(self, consumer_factory: Any, topic: str) -> None:
        self.lock = threading.Lock()
        self.ledger = OffsetLedger()
        self.topic = topic
        self._consumer_factory = consumer_factory
        self._consumer: Any = None

    def read(self, partition: int, offset: int) -> None:
        with self.lock:
            self.ledger.read(partition, offset)

    def done(self, partition: int, offset: int) -> None:
        with self.lock:
            self.ledger.done(partition, offset)

    def commit(self) -> dict[int, int]:
        from kafka import TopicPartition
        from kafka.structs import OffsetAndMetadata

        with self.lock:
            moved = self.ledger.advance()
            if moved:
                if self._consumer is None:
                    self._consumer = self._consumer_factory()
                offsets = {TopicPartition(self.topic, p): OffsetAndMetadata(o, "", -1) for p, o in moved.items()}
                self._consumer.commit(offsets=offsets)
        return moved


def acquire(shared: Shared, consumer_factory: Any, topic: str) -> CommitState:
    """The job's CommitState in this process (created by whichever step asks first)."""
    state: CommitState = shared.acquire(lambda: CommitState(consumer_factory, topic))
    return state
