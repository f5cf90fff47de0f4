"""Every registered upload source (operators/sinks.py SOURCES) passes the source conformance suite on its real
input: Kafka on the session's tansu broker (progress = the group's committed offsets), the backfill listing over a
JSONL manifest (progress = the run's journal, resumed as `--resume` does)."""

from __future__ import annotations

import importlib
import uuid
from pathlib import Path

import pytest
from apache_beam.utils.shared import Shared
from kafka import KafkaProducer

from guardstream.operators.kafka_admin import ensure_topics
from guardstream.operators.kafka_sink import KafkaUploadSource
from guardstream.operators.kafka_source import KafkaSourceConfig
from guardstream.operators.lake_settings import LakeSettings
from guardstream.operators.sinks import SOURCES, UploadSource
from guardstream.pipeline.backfill.items import Defaults
from guardstream.pipeline.backfill.ledger import RunConfig, RunLedger, done_ranges
from guardstream.pipeline.backfill.source import BackfillSource, PassSpec
from guardstream.pipeline.backfill.sources import ListingSpec
from guardstream.pipeline.stack import LocalStack
from guardstream.schemas.policy import load_policy_pack
from tests.conftest import make_event
from tests.operators.source_conformance import SourceConformance
from tests.registered import conformance_registrar

TESTED: dict[str, type] = {}
conformance_for = conformance_registrar(TESTED)


def test_every_registered_source_has_a_conformance_class() -> None:
    assert set(TESTED) == set(SOURCES)


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_every_registered_source_is_an_upload_source(name: str) -> None:
    module, cls = SOURCES[name].split(":")
    source = getattr(importlib.import_module(module), cls)
    assert issubclass(source, UploadSource) and source.name == name


def _payloads(tag: str, start: int, n: int) -> list[bytes]:
    return [make_event(i, upload_id=f"{tag}-{i}").model_dump_json().encode() for i in range(start, start + n)]


@pytest.mark.kafka
@conformance_for("kafka")
class TestKafkaSourceConformance(SourceConformance):
    settle_s = 4.0  # a few poll windows: re-read offsets would arrive before the stop

    @pytest.fixture(autouse=True)
    def _topic(self, local_stack: LocalStack, tmp_path: Path) -> None:
        self.bootstrap = local_stack.status()["kafka_bootstrap"]
        self.topic = f"source-conformance-{uuid.uuid4().hex[:8]}"
        ensure_topics(self.bootstrap, [self.topic], 2, {})
        self.stop_file, self.seeded = tmp_path / "stop", 0

    def seed(self, n: int) -> list[bytes]:
        payloads = _payloads(self.topic, self.seeded, n)
        self.seeded += n
        producer = KafkaProducer(bootstrap_servers=self.bootstrap, acks="all")
        try:
            for i, payload in enumerate(payloads):
                producer.send(self.topic, value=payload, partition=i % 2).get(timeout=30)
        finally:
            producer.close()
        return payloads

    def make_source(self) -> UploadSource:
        self.stop_file.unlink(missing_ok=True)
        config = KafkaSourceConfig(self.bootstrap, self.topic, f"g-{self.topic}", stop_file=str(self.stop_file),
                                   max_partitions=4)  # fmt: skip
        return KafkaUploadSource(config, Shared())

    def stop(self) -> None:
        self.stop_file.touch()


@conformance_for("backfill")
class TestBackfillSourceConformance(SourceConformance):
    @pytest.fixture(autouse=True)
    def _run(self, tmp_path: Path) -> None:
        self.manifest, self.seeded = tmp_path / "uploads.jsonl", 0
        self.manifest.touch()
        self.ledger = RunLedger(tmp_path / "runs", "bf-conformance")
        self.ledger.create(RunConfig(self.ledger.run_id, str(self.manifest), "default"))
        self.lake = (f"sqlite:///{tmp_path / 'catalog.db'}", (tmp_path / "wh").as_uri())

    def seed(self, n: int) -> list[bytes]:
        payloads = _payloads("backfill", self.seeded, n)
        self.seeded += n
        with self.manifest.open("ab") as out:
            out.writelines(p + b"\n" for p in payloads)
        return payloads

    def make_source(self) -> UploadSource:
        spec = PassSpec(self.ledger, "main", ListingSpec("manifest", str(self.manifest), Defaults()),
                        load_policy_pack(), "conformance", LakeSettings(), *self.lake, chunk=2,
                        done=done_ranges(self.ledger))  # fmt: skip
        return BackfillSource(spec, sinks=[])
