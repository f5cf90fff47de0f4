"""The conformance suite every upload source passes (operators/sinks.py `UploadSource`). Subclass
`SourceConformance` (name it `Test…`) and implement `seed(n)` (put n new uploads where the next source reads; return
their payloads) and `make_source()` (a fresh source over everything seeded so far that resumes from what earlier
sources acknowledged); a source that does not end by itself also implements `stop()`. pytest collects the
inherited tests. Checks, each in a real Beam pipeline (FnApiRunner): every seeded upload is read exactly once with
its bytes and a source position; `acknowledge` passes every outcome on, in a job whose every upload ends as an
outcome; what one source acknowledged is not read by the next, while uploads seeded since are; a source over
nothing new reads nothing and still stops."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import apache_beam as beam

from guardstream.operators.envelope import Envelope, Outcome
from guardstream.operators.sinks import UploadSource
from guardstream.schemas.dead_letter import Stage

# What the running pipeline saw (FnApiRunner runs its DoFns in this process).
READ: list[Envelope] = []
ACKNOWLEDGED: list[Outcome] = []


class _Decide(beam.DoFn):
    """Every read envelope ends as an outcome (a dead letter: the suite tests the source, not a guard)."""

    def process(self, envelope: Envelope) -> Iterator[Outcome]:
        READ.append(envelope)
        yield Outcome.failed(envelope.dead_letter(Stage.PARSE, "source conformance"), envelope)


class _Record(beam.DoFn):
    def process(self, outcome: Outcome) -> Iterator[None]:
        ACKNOWLEDGED.append(outcome)
        return iter(())


class SourceConformance:
    timeout_s = 120.0
    settle_s = 0.5  # after the expected outcomes, how long a source may still show reads it should not make

    def seed(self, n: int) -> list[bytes]:
        raise NotImplementedError

    def make_source(self) -> UploadSource:
        raise NotImplementedError

    def stop(self) -> None:
        """Ask a running source to finish (unbounded sources); bounded sources end by themselves."""

    def run_source(self, expect: int) -> tuple[list[Envelope], list[Outcome]]:
        """Run `read → decide → acknowledge` until `expect` outcomes are acknowledged (or the source ends)."""
        source = self.make_source()
        READ.clear()
        ACKNOWLEDGED.clear()
        errors: list[BaseException] = []

        def run() -> None:
            try:
                with beam.Pipeline(runner="FnApiRunner") as root:
                    outcomes = root | "Read" >> source.read() | "Decide" >> beam.ParDo(_Decide())
                    _ = outcomes | "Acknowledge" >> source.acknowledge() | "Record" >> beam.ParDo(_Record())
            except BaseException as exc:  # re-raised in the test thread below
                errors.append(exc)

        job = threading.Thread(target=run, daemon=True)
        job.start()
        deadline = time.monotonic() + self.timeout_s
        while job.is_alive() and len(ACKNOWLEDGED) < expect and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(self.settle_s)  # a source that reads more than it was given gets the chance to show it
        self.stop()
        job.join(timeout=self.timeout_s)
        assert not job.is_alive(), f"the {source.name} source did not stop"
        if errors:
            raise errors[0]
        return list(READ), list(ACKNOWLEDGED)

    def test_reads_every_seeded_upload_once_with_a_position(self) -> None:
        payloads = self.seed(5)
        read, _ = self.run_source(len(payloads))
        assert sorted(e.payload for e in read) == sorted(payloads)
        positions = [(e.topic, e.partition, e.offset) for e in read]
        assert all(t is not None and o is not None for t, _, o in positions), positions
        assert len(set(positions)) == len(positions), f"two envelopes share a source position: {positions}"

    def test_acknowledge_passes_every_outcome_on(self) -> None:
        payloads = self.seed(4)
        read, acknowledged = self.run_source(len(payloads))
        assert sorted(o.envelope.payload for o in acknowledged) == sorted(e.payload for e in read)
        assert all(o.dead_letter is not None for o in acknowledged)

    def test_acknowledged_uploads_are_not_read_again_and_new_ones_are(self) -> None:
        first = self.seed(3)
        read, _ = self.run_source(len(first))
        assert sorted(e.payload for e in read) == sorted(first)
        later = self.seed(2)
        read, acknowledged = self.run_source(len(later))
        assert sorted(e.payload for e in read) == sorted(later), "a resumed source re-read acknowledged uploads"
        assert len(acknowledged) == len(later)

    def test_nothing_new_reads_nothing_and_stops(self) -> None:
        first = self.seed(2)
        self.run_source(len(first))
        read, acknowledged = self.run_source(0)
        assert read == [] and acknowledged == []
