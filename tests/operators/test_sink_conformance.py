"""Every registered sink (operators/sinks.py SINKS) passes the sink conformance suite on its real destination:
the lake on a local SQL catalog, Kafka on the session's tansu broker."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from kafka import KafkaConsumer, TopicPartition

from guardstream.operators.envelope import Outcome
from guardstream.operators.kafka_admin import ensure_topics
from guardstream.operators.kafka_sink import KafkaSinkConfig, KafkaWriter
from guardstream.operators.lake import Lake
from guardstream.operators.lake_sink import LakeWriter
from guardstream.operators.sinks import SINKS, OutcomeWriter
from guardstream.pipeline.settings import LakeSettings
from guardstream.pipeline.stack import LocalStack
from guardstream.schemas import DeadLetter, Verdict
from tests.operators.sink_conformance import SinkConformance, outcome_ids
from tests.registered import conformance_registrar

TESTED: dict[str, type] = {}
conformance_for = conformance_registrar(TESTED)


def test_every_registered_sink_has_a_conformance_class() -> None:
    assert set(TESTED) == set(SINKS)


@conformance_for("lake")
class TestLakeSinkConformance(SinkConformance):
    @pytest.fixture(autouse=True)
    def _root(self, tmp_path: Path) -> None:
        self.root = tmp_path

    def make_writer(self) -> OutcomeWriter:
        uri, warehouse = f"sqlite:///{self.root / 'catalog.db'}", (self.root / "wh").as_uri()
        return LakeWriter(LakeSettings(), uri, warehouse)

    def read_back(self, outcomes: list[Outcome]) -> set[tuple[str, str]]:
        lake = Lake.open(
            LakeSettings(), uri=f"sqlite:///{self.root / 'catalog.db'}", warehouse=(self.root / "wh").as_uri()
        )
        keys = set(lake.verdicts().scan(selected_fields=("idempotency_key",)).to_arrow().column(0).to_pylist())
        letters = set(lake.dead_letters().scan(selected_fields=("dead_letter_id",)).to_arrow().column(0).to_pylist())
        return {(k, i) for k, i in outcome_ids(outcomes) if i in (keys if k == "verdict" else letters)}


@pytest.mark.kafka
@conformance_for("kafka")
class TestKafkaSinkConformance(SinkConformance):
    keeps_committed_verdicts = False  # a topic is a log: replays are re-sent, consumers dedupe on the key

    @pytest.fixture(autouse=True)
    def _topics(self, local_stack: LocalStack) -> None:
        self.bootstrap = local_stack.status()["kafka_bootstrap"]
        suffix = uuid.uuid4().hex[:8]
        self.topics = (f"sink-verdicts-{suffix}", f"sink-dead-letters-{suffix}")
        ensure_topics(self.bootstrap, list(self.topics), 1, {})

    def make_writer(self) -> OutcomeWriter:
        return KafkaWriter(KafkaSinkConfig(self.bootstrap, *self.topics))

    def read_back(self, outcomes: list[Outcome]) -> set[tuple[str, str]]:
        held: set[tuple[str, str]] = set()
        for topic, kind in zip(self.topics, ("verdict", "dead_letter"), strict=True):
            consumer = KafkaConsumer(bootstrap_servers=self.bootstrap, consumer_timeout_ms=3000)
            consumer.assign([TopicPartition(topic, 0)])
            consumer.seek_to_beginning()
            for message in consumer:
                model = Verdict if kind == "verdict" else DeadLetter
                item = model.model_validate_json(message.value)
                held.add((kind, item.idempotency_key if isinstance(item, Verdict) else item.dead_letter_id))
            consumer.close()
        return held & set(outcome_ids(outcomes))
