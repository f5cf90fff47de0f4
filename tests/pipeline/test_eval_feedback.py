"""Reviewer feedback on the real local stack: decisions on the feedback topic (one malformed) are consumed into
the lake table `feedback` idempotently and joined with the upload events into an eval manifest."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path

import jsonschema
import pytest
from kafka import KafkaProducer

from guardstream.operators.kafka_admin import ensure_topics
from guardstream.pipeline.evaluate.feedback import consume_feedback, feedback_table_id, manifest_from_feedback
from guardstream.pipeline.evaluate.manifest import read_manifest
from guardstream.pipeline.stack import LocalStack
from guardstream.schemas.feedback import ReviewDecision, ReviewFeedback
from guardstream.schemas.generate import load_json_schema
from guardstream.schemas.policy import load_policy_pack
from tests.conftest import make_event

pytestmark = pytest.mark.kafka
SET = load_policy_pack().policy_set("default")
T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


def _decision(upload_id: str, policy_id: str, decision: ReviewDecision, minutes: int) -> ReviewFeedback:
    return ReviewFeedback(upload_id=upload_id, policy_id=policy_id, decision=decision,
                          decided_at=T0 + dt.timedelta(minutes=minutes), guard_version="2.0+abc")  # fmt: skip


def test_feedback_topic_to_lake_to_manifest(local_stack: LocalStack, tmp_path: Path) -> None:
    settings = local_stack.settings
    run = uuid.uuid4().hex[:6]
    topic = f"{settings.kafka.feedback_topic}-{run}"
    settings = settings.model_copy(update={"kafka": settings.kafka.model_copy(update={"feedback_topic": topic})})
    bootstrap = local_stack.status()["kafka_bootstrap"]
    ensure_topics(bootstrap, [topic, settings.kafka.uploads_topic], 1, {})
    scam, warning = f"fb-{run}-scam", f"fb-{run}-warning"
    events = [
        make_event(0, upload_id=scam, title="Double your bitcoin", description="send 1 get 2 back"),
        make_event(1, upload_id=warning, title="Crypto doubling offers are theft", description="never pay"),
    ]
    decisions = [
        _decision(scam, "c4.scam", ReviewDecision.DOES_NOT_VIOLATE, 1),
        _decision(scam, "c4.scam", ReviewDecision.VIOLATES, 5),  # the later decision wins
        _decision(warning, "c4.scam", ReviewDecision.DOES_NOT_VIOLATE, 2),
    ]
    for d in decisions:
        jsonschema.validate(json.loads(d.model_dump_json()), load_json_schema("feedback"))
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for event in events:
        producer.send(settings.kafka.uploads_topic, value=event.model_dump_json().encode())
    for value in [*(d.model_dump_json().encode() for d in decisions), b'{"upload_id": "x"}']:
        producer.send(topic, value=value)
    producer.flush()
    producer.close()

    lake = local_stack.open_lake()
    first = consume_feedback(lake, bootstrap, topic, {})
    assert (first.read, first.invalid, first.inserted) == (4, 1, 3)
    assert consume_feedback(lake, bootstrap, topic, {}).inserted == 0  # a re-read inserts nothing

    out = tmp_path / "reviewed.jsonl"
    assert manifest_from_feedback(settings, out, SET) >= 2
    items = {i.id: i for i in read_manifest(out, SET.policy_ids)}
    assert items[scam].labels == {"c4.scam"} and items[warning].labels == frozenset()
    assert items[scam].title == "Double your bitcoin" and items[scam].tag == "reviewed"
    rows = lake.catalog.load_table(feedback_table_id(lake)).scan().to_arrow().to_pylist()
    assert sum(r["upload_id"] in (scam, warning) for r in rows) == 3
