"""Run faults one at a time against the local stack while seeded uploads stream through the real job, and
reconcile every produced upload id against the lake."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

import structlog

from guardstream.pipeline.chaos.job import JobRunner
from guardstream.pipeline.chaos.reconcile import reconcile
from guardstream.pipeline.demo_data import SyntheticUpload, generate_uploads
from guardstream.pipeline.settings import Settings
from guardstream.pipeline.stack import LocalStack

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class FaultReport:
    name: str
    injected_at: str
    recovered_s: float | None
    lost: int
    duplicated: int
    held: int
    uploads: int
    unsent: int  # uploads the campaign's producer could not get acknowledged (excluded from `lost`)
    job_restarts: int
    description: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class StreamPlan:
    uploads: int = 24
    interval_s: float = 0.5
    inject_after: int = 6  # uploads sent (and one decided) before the fault
    decide_timeout_s: float = 300.0


def _decided(lake: Any, uploads: list[SyntheticUpload]) -> frozenset[str]:
    """Upload ids with an outcome in the lake; none while the lake cannot be read (its store may be down)."""
    try:
        return reconcile(lake, uploads).decided
    except Exception as exc:  # the object store is the fault under test: keep polling
        log.info("chaos.lake_unreadable", error=type(exc).__name__)
        return frozenset()


class Producer(threading.Thread):
    """Sends each upload once acknowledged (retrying through broker faults), recording when it was sent."""

    def __init__(self, bootstrap: str, topic: str, uploads: list[SyntheticUpload], interval_s: float) -> None:
        super().__init__(name="chaos-producer", daemon=True)
        self.bootstrap, self.topic, self.uploads, self.interval_s = bootstrap, topic, uploads, interval_s
        self.sent_at: dict[str, float] = {}
        self.acknowledged: set[str] = set()  # on the topic: the pipeline's to decide; the rest is not its to lose

    @property
    def unsent(self) -> set[str]:
        """Uploads the broker never acknowledged (a send that timed out, or never tried because the thread died)."""
        return {u.upload_id for u in self.uploads} - self.acknowledged

    def _producer(self) -> Any:
        from kafka import KafkaProducer

        return KafkaProducer(bootstrap_servers=self.bootstrap, acks="all", retries=5, request_timeout_ms=10000)

    def run(self) -> None:
        producer = self._producer()
        for upload in self.uploads:
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                try:
                    producer.send(self.topic, key=upload.upload_id.encode(), value=upload.payload).get(timeout=15)
                    self.acknowledged.add(upload.upload_id)
                    break
                except Exception as exc:  # a broker fault: a fresh producer (a fatal error wedges the old one)
                    log.info("chaos.produce_retry", error=type(exc).__name__)
                    _close(producer)
                    time.sleep(1.0)
                    producer = self._producer()
            self.sent_at[upload.upload_id] = time.time()
            time.sleep(self.interval_s)
        _close(producer)


def _close(producer: Any) -> None:
    """Close a producer whose broker may be gone: kafka-python's close flushes and raises on a timeout, which
    must not end the campaign's producer thread (the uploads after it would then never be sent)."""
    try:
        producer.close(timeout=1)
    except Exception as exc:
        log.info("chaos.producer_close_failed", error=type(exc).__name__)


class Campaign:
    def __init__(self, settings: Settings, plan: StreamPlan, seed: int) -> None:
        self.settings, self.plan, self.seed = settings, plan, seed
        self.stack = LocalStack(settings)
        self.media = self.stack.home / "chaos-media"
        self.env = JobRunner.environment(self.stack.home, [self.media])
        self.job = JobRunner(self.stack.home, self.env, self.stack.home / "logs" / "chaos-stream.log")

    def wait_stack_healthy(self, timeout_s: float = 180.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not self.stack.status()["healthy"] and time.monotonic() < deadline:
            time.sleep(1.0)

    def deploy(self) -> None:
        """Deploy the guard app from a subprocess (this process never joins Ray, so a head kill spares it)."""
        cmd = [sys.executable, "-m", "guardstream.pipeline.cli", "serve", "--json"]
        subprocess.run(cmd, env={**os.environ, **self.env}, check=True, capture_output=True, timeout=600)

    def __enter__(self) -> Campaign:
        self.stack.up()
        self.deploy()
        self.job.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.job.stop()

    def run_fault(self, name: str) -> FaultReport:
        from guardstream.pipeline.chaos.faults import FAULTS

        fault = FAULTS[name]
        run_id = f"chaos-{name.replace('_', '-')}-{self.seed}-{os.getpid()}-{int(time.time())}"
        uploads = generate_uploads(self.media / name, run_id, self.plan.uploads, seed=self.seed)
        lake, restarts_before = self.stack.open_lake(), self.job.restarts
        producer = Producer(
            self.stack.status()["kafka_bootstrap"], self.settings.kafka.uploads_topic, uploads, self.plan.interval_s
        )
        producer.start()
        self._wait(lambda: len(producer.sent_at) >= self.plan.inject_after and bool(_decided(lake, uploads)), 300)
        injected_at, injected_mono = dt.datetime.now(dt.UTC), time.time()
        log.info("chaos.inject", fault=name)
        fault.inject(self)
        recovered = self._recovery_s(lake, uploads, producer, injected_mono)
        producer.join(600)
        acked = [u for u in uploads if u.upload_id in producer.acknowledged]
        self._wait(lambda: len(_decided(lake, acked)) == len(acked), self.plan.decide_timeout_s)
        result = reconcile(self.stack.open_lake(), acked)
        return FaultReport(
            name, injected_at.isoformat(timespec="seconds"), recovered, result.lost, result.duplicated, result.held,
            len(uploads), len(producer.unsent), self.job.restarts - restarts_before, fault.description,
        )  # fmt: skip

    def _recovery_s(self, lake: Any, uploads: list[SyntheticUpload], producer: Producer, since: float) -> float | None:
        """Seconds from injection until an upload sent after it has an outcome in the lake."""
        deadline = time.monotonic() + self.plan.decide_timeout_s
        while time.monotonic() < deadline:
            decided = _decided(lake, uploads)
            if any(producer.sent_at.get(u, 0) > since for u in decided):
                return round(time.time() - since, 1)
            if len(producer.sent_at) == len(uploads) and len(decided) == len(uploads):
                return round(time.time() - since, 1)
            time.sleep(1.0)
        return None

    @staticmethod
    def _wait(predicate: Any, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(1.0)
        return False
