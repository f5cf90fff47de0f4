"""Reviewer feedback → lake → manifest (the AEGIS idea, offline and auditable).

Reviewers' decisions arrive on the `guardstream.feedback` topic as ReviewFeedback messages
(schemas/feedback.py). `consume_feedback` reads the topic from the beginning up to its high watermarks and
upserts every valid message into the lake table `feedback` (key: feedback_id, so a re-read is a no-op; invalid
messages are counted, never written). `build_manifest` joins the decisions with the upload events on the uploads
topic (title, description, transcript, media URI) into eval-manifest items: labels = the policies a reviewer
said the upload violates (the latest decision per policy wins; a policy nobody reviewed counts as not violating),
tag `reviewed`. `guardstream eval OUT.jsonl --from-feedback` does both.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from pydantic import ValidationError

from guardstream.operators.lake import Lake, WriteResult
from guardstream.pipeline.evaluate.manifest import ManifestItem, write_manifest
from guardstream.pipeline.settings import Settings
from guardstream.schemas.feedback import FEEDBACK_ARROW, ReviewDecision, ReviewFeedback, feedback_to_arrow
from guardstream.schemas.policy import PolicySet
from guardstream.schemas.upload import UploadEvent

log = structlog.get_logger(__name__)

FEEDBACK_TABLE = "feedback"
FEEDBACK_KEY = "feedback_id"
REVIEWED_TAG = "reviewed"


@dataclass(frozen=True)
class ConsumeResult:
    read: int
    invalid: int
    inserted: int


def feedback_table_id(lake: Lake) -> str:
    return f"{lake.settings.namespace}.{FEEDBACK_TABLE}"


def ensure_feedback_table(lake: Lake) -> None:
    from pyiceberg.exceptions import NamespaceAlreadyExistsError

    with contextlib.suppress(NamespaceAlreadyExistsError):
        lake.catalog.create_namespace(lake.settings.namespace)
    lake._ensure_table(feedback_table_id(lake), FEEDBACK_ARROW, "decided_at", {"commit.retry.num-retries": "0"})


def write_feedback(lake: Lake, rows: Sequence[ReviewFeedback]) -> WriteResult:
    """Insert decisions whose feedback_id is absent (idempotent; retried on commit conflicts like verdicts)."""
    if not rows:
        return WriteResult(0, 0)
    unique = {r.feedback_id: r for r in rows}
    frame = feedback_to_arrow(list(unique.values()))
    table_id = feedback_table_id(lake)
    return lake._retry(lambda: lake._insert_absent(lake.catalog.load_table(table_id), frame, FEEDBACK_KEY))


def parse_feedback(values: Iterable[bytes]) -> tuple[list[ReviewFeedback], int]:
    """Valid decisions and the count of messages that are not (bad JSON or schema)."""
    valid, invalid = [], 0
    for value in values:
        try:
            valid.append(ReviewFeedback.model_validate_json(value))
        except ValidationError:
            invalid += 1
    return valid, invalid


def read_topic(bootstrap: str, topic: str, client_config: Mapping[str, object], timeout_s: float = 30.0) -> list[bytes]:
    """Every record value of `topic`, from the beginning to the high watermarks seen at the start."""
    import time

    from kafka import KafkaConsumer, TopicPartition

    from guardstream.operators.kafka_admin import fetched_high_watermarks

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, **client_config)
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not partitions:
            return []
        ends = fetched_high_watermarks(consumer, partitions)
        consumer.seek_to_beginning(*partitions)
        values: list[bytes] = []
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < ends[tp] for tp in partitions) and time.monotonic() < deadline:
            for tp, records in consumer.poll(timeout_ms=200).items():
                values += [r.value for r in records if r.offset < ends[tp]]
        return values
    finally:
        consumer.close()


def consume_feedback(lake: Lake, bootstrap: str, topic: str, client_config: Mapping[str, object]) -> ConsumeResult:
    values = read_topic(bootstrap, topic, client_config)
    rows, invalid = parse_feedback(values)
    ensure_feedback_table(lake)
    result = write_feedback(lake, rows)
    log.info("feedback.consumed", read=len(values), invalid=invalid, inserted=result.rows_inserted)
    return ConsumeResult(len(values), invalid, result.rows_inserted)


def latest_decisions(rows: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, str]]:
    """upload id → policy id → the latest decision (by decided_at, then feedback_id)."""
    out: dict[str, dict[str, str]] = {}
    for row in sorted(rows, key=lambda r: (r["decided_at"], r[FEEDBACK_KEY])):
        out.setdefault(row["upload_id"], {})[row["policy_id"]] = row["decision"]
    return out


def build_manifest(decisions: Mapping[str, Mapping[str, str]], events: Mapping[str, UploadEvent],
                   policy_set: PolicySet) -> list[ManifestItem]:  # fmt: skip
    """Items for the reviewed uploads whose event is known (policies outside the set are dropped)."""
    known = set(policy_set.policy_ids)
    items = []
    for upload_id in sorted(decisions):
        event = events.get(upload_id)
        if event is None:
            continue
        labels = frozenset(p for p, d in decisions[upload_id].items() if d == ReviewDecision.VIOLATES and p in known)
        uri = None if event.media_uri.startswith("manifest://") else event.media_uri
        items.append(ManifestItem(id=upload_id, labels=labels, tag=REVIEWED_TAG, uri=uri, title=event.title,
                                  description=event.description, transcript=event.transcript))  # fmt: skip
    return items


def upload_events(values: Iterable[bytes], wanted: set[str]) -> dict[str, UploadEvent]:
    """The latest valid upload event per wanted upload id (others and invalid payloads skipped)."""
    events: dict[str, UploadEvent] = {}
    for value in values:
        try:
            event = UploadEvent.model_validate_json(value)
        except ValidationError:
            continue
        if event.upload_id in wanted:
            events[event.upload_id] = event
    return events


def manifest_from_feedback(settings: Settings, out: Path, policy_set: PolicySet) -> int:
    """Consume the feedback topic into the lake, then write the reviewed uploads as a manifest at `out`."""
    from guardstream.operators.kafka_admin import ensure_topics
    from guardstream.pipeline.stack import LocalStack

    stack = LocalStack(settings)
    lake = stack.open_lake()
    bootstrap = settings.kafka.bootstrap_servers or stack.status()["kafka_bootstrap"]
    config = settings.kafka.client_config()
    ensure_topics(bootstrap, [settings.kafka.feedback_topic], settings.kafka.partitions, config)
    consume_feedback(lake, bootstrap, settings.kafka.feedback_topic, config)
    rows = lake.catalog.load_table(feedback_table_id(lake)).scan().to_arrow().to_pylist()
    decisions = latest_decisions(rows)
    events = upload_events(read_topic(bootstrap, settings.kafka.uploads_topic, config), set(decisions))
    items = build_manifest(decisions, events, policy_set)
    write_manifest(out, items)
    return len(items)
