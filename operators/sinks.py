"""The source and sink seams of a job, bytewax-style: small required interfaces, wired into Beam here once.

A sink (`OutcomeWriter`) opens its clients once per worker (`open`) and writes one bundle of decided outcomes
durably (`write_batch`), returning the outcomes to pass on — only then do they travel downstream, so every step
after a sink (the next sink, the source's acknowledgement) sees only durable outcomes. A source
(`UploadSource`) reads upload envelopes and acknowledges outcomes once every sink holds them. A job is a source
plus a list of sinks; adding one is a class here or beside its client code plus a line in `SINKS` (or `SOURCES`),
and the conformance suites (tests/operators/test_sink_conformance.py, tests/operators/test_source_conformance.py)
run against every registered sink and source.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import apache_beam as beam

from guardstream.operators import metrics
from guardstream.operators.envelope import BundleSinkFn, Envelope, Outcome

# The two transforms a source supplies; adding them to a job needs no more than these types.
ReadTransform = beam.PTransform[beam.pvalue.PBegin, beam.PCollection[Envelope]]
OutcomeTransform = beam.PTransform[beam.PCollection[Outcome], beam.PCollection[Outcome]]

# Registry name → "module:Class" of every sink this distribution ships (conformance runs on each).
SINKS: dict[str, str] = {
    "lake": "guardstream.operators.lake_sink:LakeWriter",
    "kafka": "guardstream.operators.kafka_sink:KafkaWriter",
}

# Registry name → "module:Class" of every upload source this distribution ships: a manifest (as threatexchange's
# extension manifest), read by the conformance suite and the docs, never imported here — the backfill source lives
# in the pipeline layer, above this one.
SOURCES: dict[str, str] = {
    "kafka": "guardstream.operators.kafka_sink:KafkaUploadSource",
    "backfill": "guardstream.pipeline.backfill.source:BackfillSource",
}


class OutcomeWriter(ABC):
    """Where decided outcomes go. Required: `open` and `write_batch`; `close` has a safe default."""

    name: ClassVar[str]

    @abstractmethod
    def open(self) -> None:
        """Open clients (once per worker, before the first batch)."""

    @abstractmethod
    def write_batch(self, outcomes: list[Outcome]) -> list[Outcome]:
        """Write the batch durably or raise (the bundle is then retried); return every outcome to pass on, in
        order — a verdict replaced by the one the destination already committed for its key, if any."""

    def close(self) -> None:
        """Release clients."""


class UploadSource(ABC):
    """Where upload events come from. Required: `read` (envelopes) and `acknowledge` (durable outcomes)."""

    name: ClassVar[str]

    @abstractmethod
    def read(self) -> ReadTransform:
        """PBegin → PCollection[Envelope]."""

    @abstractmethod
    def acknowledge(self) -> OutcomeTransform:
        """PCollection[Outcome] (durable in every sink) → the same outcomes, with the source's progress advanced."""


class _WriterFn(BundleSinkFn):
    def __init__(self, writer: OutcomeWriter) -> None:
        self.writer = writer

    def setup(self) -> None:
        self.writer.open()

    def write(self, outcomes: list[Outcome]) -> list[Outcome]:
        started = time.perf_counter()
        written = self.writer.write_batch(outcomes)
        metrics.observe(
            "guardstream_sink_write_latency_ms", (time.perf_counter() - started) * 1e3, sink=self.writer.name
        )
        metrics.inc("guardstream_sink_outcomes", len(written), sink=self.writer.name)
        return written

    def teardown(self) -> None:
        self.writer.close()


class WriteOutcomes(OutcomeTransform):
    """Any `OutcomeWriter` as a Beam step: buffer a bundle, write it, emit its outcomes only once durable."""

    def __init__(self, writer: OutcomeWriter) -> None:
        super().__init__()
        self.writer = writer

    # Any, not the element type: Beam reads expand's annotations as runtime type hints (checks and coders).
    def expand(self, outcomes: beam.PCollection[Any]) -> beam.PCollection[Any]:
        written: beam.PCollection[Any] = outcomes | beam.ParDo(_WriterFn(self.writer))
        return written


def write_and_acknowledge(source: UploadSource, sinks: list[OutcomeWriter]) -> OutcomeTransform:
    """Outcomes → every sink in order → the source's acknowledgement → the outcome metrics."""

    @beam.ptransform_fn
    def chain(outcomes: beam.PCollection[Any]) -> beam.PCollection[Any]:
        for sink in sinks:
            outcomes = outcomes | f"Write{sink.name.title()}" >> WriteOutcomes(sink)
        acknowledged = outcomes | f"Acknowledge{source.name.title()}" >> source.acknowledge()
        recorded: beam.PCollection[Any] = acknowledged | "RecordOutcomes" >> metrics.RecordOutcomes()
        return recorded

    return chain()
