"""Kafka on both ends of a job: the `KafkaWriter` sink publishes verdicts and dead letters (JSON, keyed by
upload id) and the `KafkaUploadSource` reads uploads and commits their offsets (operators/sinks.py seams).

`KafkaWriter` sends a bundle, flushes with acks=all and only then passes the outcomes on; `CommitOffsets` (the
source's acknowledgement) commits, per partition, the highest offset below which every upload is durably
decided — so offsets advance only past uploads whose verdict or dead letter is written (at-least-once).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import apache_beam as beam
import structlog
from apache_beam.metrics import Metrics
from apache_beam.utils.shared import Shared

from guardstream.operators import offsets
from guardstream.operators.envelope import Outcome
from guardstream.operators.kafka_source import KafkaSourceConfig, ReadUploads, _consumer
from guardstream.operators.sinks import OutcomeTransform, OutcomeWriter, ReadTransform, UploadSource
from guardstream.schemas.generate import load_json_schema

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class KafkaSinkConfig:
    bootstrap_servers: str
    verdicts_topic: str
    dead_letters_topic: str
    client_config: tuple[tuple[str, Any], ...] = ()


class VerdictSchemaError(ValueError):
    """A verdict message does not validate against the committed JSON Schema."""


def encode_outcome(outcome: Outcome, validator: Any) -> tuple[str, bytes | None, bytes]:
    """(topic kind, key, value) for one outcome; verdicts are checked against the committed schema."""
    if outcome.verdict is not None:
        message = json.loads(outcome.verdict.model_dump_json())
        errors = sorted(validator.iter_errors(message), key=str)
        if errors:
            raise VerdictSchemaError(f"verdict does not match schemas/json/verdict.schema.json: {errors[0].message}")
        return "verdicts", outcome.verdict.upload_id.encode(), json.dumps(message, separators=(",", ":")).encode()
    assert outcome.dead_letter is not None
    key = outcome.dead_letter.upload_id.encode() if outcome.dead_letter.upload_id else None
    return "dead_letters", key, outcome.dead_letter.model_dump_json().encode()


class KafkaWriter(OutcomeWriter):
    """Verdicts and dead letters to their topics (keyed by upload id, acks=all, flushed per bundle)."""

    name = "kafka"

    def __init__(self, config: KafkaSinkConfig) -> None:
        self.config = config
        self.published = Metrics.counter("guardstream.sink", "messages_published")

    def open(self) -> None:
        from jsonschema import Draft202012Validator
        from kafka import KafkaProducer

        self.validator = Draft202012Validator(load_json_schema("verdict"))
        self.producer = KafkaProducer(
            bootstrap_servers=self.config.bootstrap_servers,
            acks="all",
            linger_ms=5,
            client_id="guardstream-sink",
            **dict(self.config.client_config),
        )
        self.topics = {"verdicts": self.config.verdicts_topic, "dead_letters": self.config.dead_letters_topic}

    def write_batch(self, outcomes: list[Outcome]) -> list[Outcome]:
        futures = []
        for outcome in (o for o in outcomes if not o.envelope.shadow):  # shadow verdicts are never published
            kind, key, value = encode_outcome(outcome, self.validator)
            futures.append(self.producer.send(self.topics[kind], key=key, value=value))
        self.producer.flush()
        for future in futures:
            future.get(timeout=30)  # raises if any send failed: the bundle fails and is retried
        self.published.inc(len(futures))
        return outcomes

    def close(self) -> None:
        producer = getattr(self, "producer", None)
        if producer is not None:
            producer.close()


class _CommitFn(beam.DoFn):
    def __init__(self, config: KafkaSourceConfig, shared: Shared) -> None:
        self.config, self.shared = config, shared

    def setup(self) -> None:
        self.state = offsets.acquire(self.shared, partial(_consumer, self.config), self.config.topic)

    def process(self, outcome: Outcome) -> Iterator[Outcome]:
        env = outcome.envelope
        if env.topic == self.config.topic and env.partition is not None and env.offset is not None and not env.shadow:
            self.state.done(env.partition, env.offset)
        yield outcome

    def finish_bundle(self) -> None:
        moved = self.state.commit()
        if moved:
            log.debug("offsets.committed", offsets={str(p): o for p, o in moved.items()})


class CommitOffsets(OutcomeTransform):
    """Commit the source offsets of durably decided uploads. Place it after every sink on every outcome branch,
    all sharing the `shared` handle given to `ReadUploads`."""

    def __init__(self, config: KafkaSourceConfig, shared: Shared) -> None:
        super().__init__()
        self.config = config
        self.shared = shared

    # Any, not the element type: Beam reads expand's annotations as runtime type hints (checks and coders).
    def expand(self, outcomes: beam.PCollection[Any]) -> beam.PCollection[Any]:
        committed: beam.PCollection[Any] = outcomes | beam.ParDo(_CommitFn(self.config, self.shared))
        return committed


class KafkaUploadSource(UploadSource):
    """Uploads from a Kafka topic (explicit partition assignment); offsets committed once outcomes are durable.
    Give one `progress` handle to the whole job: the source records what it read there."""

    name = "kafka"

    def __init__(self, config: KafkaSourceConfig, progress: Shared) -> None:
        self.config, self.progress = config, progress

    def read(self) -> ReadTransform:
        return ReadUploads(self.config, self.progress)

    def acknowledge(self) -> OutcomeTransform:
        return CommitOffsets(self.config, self.progress)
