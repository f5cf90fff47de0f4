"""Envelope: what flows between operators — the original bytes, where they came from, and what is known so far.

Keeping the raw payload and source offsets on every element is what lets any stage dead-letter an upload
with everything needed to replay it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import apache_beam as beam
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.windowed_value import WindowedValue

from guardstream.schemas.dead_letter import DeadLetter, Stage
from guardstream.schemas.upload import UploadEvent
from guardstream.schemas.verdict import Verdict

MAX_ERROR_MESSAGE_CHARS = 2000
ATTEMPTS_HEADER = "guardstream-attempts"  # Kafka header: tries this payload already had (set by replay)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Envelope:
    payload: bytes
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    received_at: dt.datetime = field(default_factory=utcnow)
    event: UploadEvent | None = None
    policy_set_id: str | None = None
    prior_attempts: int = 0  # tries this payload had in earlier deliveries (a replay's ATTEMPTS_HEADER)
    shadow: bool = False  # scored under a shadow policy set: recorded, never published, never acknowledged

    @property
    def upload_id(self) -> str | None:
        return self.event.upload_id if self.event else None

    def with_event(self, event: UploadEvent) -> Envelope:
        return replace(self, event=event)

    def with_policy_set(self, policy_set_id: str, shadow: bool = False) -> Envelope:
        return replace(self, policy_set_id=policy_set_id, shadow=shadow)

    def dead_letter(
        self, stage: Stage, error: BaseException | str, error_class: str | None = None, tries: int = 1
    ) -> DeadLetter:
        """A dead letter for this element: original bytes, source position, stage and reason.

        Its `attempt` counts every real try: the tries of earlier deliveries (replays) plus `tries`, the tries
        the failing stage made now (a fetch retried on transient errors passes how many it made)."""
        if isinstance(error, BaseException):
            cls = error_class or type(error).__name__
            message = str(error) or cls
        else:
            cls, message = error_class or "Rejected", error
        return DeadLetter.capture(
            self.payload,
            upload_id=self.upload_id,
            stage=stage,
            error_class=cls[:200],
            message=message[:MAX_ERROR_MESSAGE_CHARS],
            attempt=self.prior_attempts + max(1, tries),
            first_seen_at=self.received_at,
            source_topic=self.topic,
            source_partition=self.partition,
            source_offset=self.offset,
        )

    def source(self) -> dict[str, Any]:
        return {"topic": self.topic, "partition": self.partition, "offset": self.offset}


@dataclass(frozen=True)
class Outcome:
    """How an upload ended: exactly one of a verdict or a dead letter, with the envelope it came from."""

    envelope: Envelope
    verdict: Verdict | None = None
    dead_letter: DeadLetter | None = None

    def __post_init__(self) -> None:
        if (self.verdict is None) == (self.dead_letter is None):
            raise ValueError("an outcome is exactly one of a verdict or a dead letter")

    @classmethod
    def failed(cls, letter: DeadLetter, envelope: Envelope | None = None) -> Outcome:
        env = envelope or Envelope(
            payload=letter.payload,
            topic=letter.source_topic,
            partition=letter.source_partition,
            offset=letter.source_offset,
            received_at=letter.first_seen_at,
        )
        return cls(envelope=env, dead_letter=letter)


class BundleSinkFn(beam.DoFn):
    """Base for sinks that write a whole bundle durably in `finish_bundle` and only then emit its outcomes.

    Emitting after the write is what lets the steps downstream (the next sink, the offset commit) treat every
    outcome they see as durable. Subclasses implement `write(outcomes) -> outcomes to emit`.
    """

    def start_bundle(self) -> None:
        self.buffer: list[Outcome] = []

    def process(self, outcome: Outcome) -> Iterator[Outcome]:
        self.buffer.append(outcome)
        return iter(())

    def write(self, outcomes: list[Outcome]) -> list[Outcome]:
        raise NotImplementedError

    def finish_bundle(self) -> Iterator[WindowedValue]:
        if not self.buffer:
            return
        outcomes, self.buffer = self.buffer, []
        for outcome in self.write(outcomes):
            yield WindowedValue(outcome, GlobalWindow().max_timestamp(), (GlobalWindow(),))
