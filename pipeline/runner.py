"""Drive the streaming job over a known set of uploads: produce them, run the job, watch the output topics
until every upload has an outcome, then stop the job cooperatively. Used by `guardstream demo`, the e2e
tests and the stream benchmark."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog

from guardstream.engines.base import Guard
from guardstream.pipeline.demo_data import SyntheticUpload
from guardstream.pipeline.settings import Settings
from guardstream.pipeline.streaming import StreamJob
from guardstream.schemas.dead_letter import DeadLetter
from guardstream.schemas.policy import PolicyPack
from guardstream.schemas.verdict import Verdict

log = structlog.get_logger(__name__)


def verdict_in_process(guard: Guard, payload: bytes, settings: Settings, pack: PolicyPack) -> Verdict:
    """The verdict the job's steps give one upload when called directly — no Kafka, Beam, Serve or lake.
    The baseline of `bench stream` and the reference of the e2e tests."""
    from guardstream.engines.base import score_fail_closed
    from guardstream.operators.aggregate import build_verdict
    from guardstream.operators.envelope import Envelope
    from guardstream.operators.frames import SampleSpec, sample_media
    from guardstream.operators.infer import guard_request
    from guardstream.operators.parse import parse_upload
    from guardstream.operators.route import route

    event = parse_upload(payload)
    policy_set = route(event, pack)
    envelope = Envelope(payload=payload, event=event).with_policy_set(policy_set.id)
    spec = SampleSpec.from_settings(settings.sampling)
    sampled = sample_media(event.media_uri, spec, settings.sampling, settings.limits)
    result = score_fail_closed(guard, [guard_request(envelope, sampled, pack)])[0]
    return build_verdict(
        event=event, policy_set=policy_set, guard_name=guard.name, guard_version=guard.version, result=result
    )


def produce_uploads(
    bootstrap: str, topic: str, uploads: Sequence[SyntheticUpload], client_config: dict[str, Any]
) -> dict[str, float]:
    """Send every upload's payload (keyed by upload id); return the send time of each upload."""
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", **client_config)
    sent_at: dict[str, float] = {}
    for upload in uploads:
        producer.send(topic, key=upload.upload_id.encode(), value=upload.payload)
        sent_at[upload.upload_id] = time.time()
    producer.flush()
    producer.close()
    return sent_at


@dataclass
class OutcomeCollector:
    """Reads the verdicts and dead-letters topics and files each message under the upload it belongs to."""

    bootstrap: str
    verdicts_topic: str
    dead_letters_topic: str
    uploads: Sequence[SyntheticUpload]
    client_config: dict[str, Any] = field(default_factory=dict)
    verdicts: dict[str, list[Verdict]] = field(default_factory=dict)
    dead_letters: dict[str, list[DeadLetter]] = field(default_factory=dict)
    first_seen_at: dict[str, float] = field(default_factory=dict)
    done: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._ids = {u.upload_id for u in self.uploads}
        self._by_payload = {u.payload: u.upload_id for u in self.uploads}

    def decided(self) -> set[str]:
        return set(self.verdicts) | set(self.dead_letters)

    def run(self) -> None:
        from kafka import KafkaConsumer, TopicPartition

        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False, **self.client_config)
        partitions = [
            TopicPartition(topic, p)
            for topic in (self.verdicts_topic, self.dead_letters_topic)
            for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        try:
            while not self.stop.is_set() and not self.done.is_set():
                for tp, records in consumer.poll(timeout_ms=200).items():
                    for record in records:
                        self._file(tp.topic, record.value)
                if self.decided() >= self._ids:
                    log.info("collector.all_decided", uploads=len(self._ids))
                    self.done.set()
        finally:
            consumer.close()

    def _file(self, topic: str, value: bytes) -> None:
        if topic == self.verdicts_topic:
            verdict = Verdict.model_validate_json(value)
            if verdict.upload_id in self._ids:
                self.verdicts.setdefault(verdict.upload_id, []).append(verdict)
                self.first_seen_at.setdefault(verdict.upload_id, time.time())
            return
        letter = DeadLetter.model_validate_json(value)
        upload_id = letter.upload_id if letter.upload_id in self._ids else self._by_payload.get(letter.payload)
        if upload_id is not None:
            self.dead_letters.setdefault(upload_id, []).append(letter)
            self.first_seen_at.setdefault(upload_id, time.time())


def run_job_until_decided(job: StreamJob, collector: OutcomeCollector, timeout_s: float) -> bool:
    """Run the job in this thread until the collector has an outcome for every upload (or the timeout)."""
    job.stop_file.unlink(missing_ok=True)
    reader = threading.Thread(target=collector.run, name="outcome-collector", daemon=True)
    reader.start()

    def stopper() -> None:
        collector.done.wait(timeout_s)
        job.stop_file.touch()

    threading.Thread(target=stopper, name="job-stopper", daemon=True).start()
    job.run()
    collector.done.wait(10)  # the last outcomes may still be on their way to the collector
    collector.stop.set()
    reader.join(timeout=10)
    return collector.done.is_set()
