"""The conformance suite every outcome sink passes (operators/sinks.py `OutcomeWriter`). Subclass
`SinkConformance` (name it `Test…`), implement `make_writer` (not opened) and `read_back` (what the destination
holds, as (kind, id) pairs); pytest collects the inherited tests. Checks: every outcome is passed on in order,
everything passed on is durable when `write_batch` returns, an empty batch is harmless, a replayed batch is
passed on again and never changes a committed verdict, and the writer runs inside a Beam pipeline."""

from __future__ import annotations

import datetime as dt
import uuid

import apache_beam as beam
import pytest

from guardstream.operators.envelope import Envelope, Outcome
from guardstream.operators.sinks import OutcomeWriter, WriteOutcomes
from guardstream.schemas import Action, DeadLetter
from tests.conftest import make_verdict


def outcome_ids(outcomes: list[Outcome]) -> list[tuple[str, str]]:
    return [
        ("verdict", o.verdict.idempotency_key) if o.verdict else ("dead_letter", o.dead_letter.dead_letter_id)
        for o in outcomes
        if o.verdict or o.dead_letter
    ]


def make_outcomes(tag: str, n: int = 4) -> list[Outcome]:
    """Alternating verdicts and dead letters, unique to `tag`."""
    outcomes: list[Outcome] = []
    for i in range(n):
        if i % 2 == 0:
            verdict = make_verdict(i, upload_id=f"{tag}-{i}")
            outcomes.append(Outcome(envelope=Envelope(payload=b"{}"), verdict=verdict))
        else:
            letter = DeadLetter.capture(
                f"bad {tag} {i}".encode(), upload_id=f"{tag}-{i}", stage="parse", error_class="JSONDecodeError",
                message="Expecting value", first_seen_at=dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
            )  # fmt: skip
            outcomes.append(Outcome.failed(letter))
    return outcomes


class SinkConformance:
    @pytest.fixture()
    def writer(self) -> OutcomeWriter:
        writer = self.make_writer()
        writer.open()
        yield writer
        writer.close()

    def make_writer(self) -> OutcomeWriter:
        raise NotImplementedError

    def read_back(self, outcomes: list[Outcome]) -> set[tuple[str, str]]:
        """The (kind, id) pairs of `outcomes` the destination holds now."""
        raise NotImplementedError

    def test_passes_every_outcome_on_in_order(self, writer: OutcomeWriter) -> None:
        outcomes = make_outcomes(uuid.uuid4().hex[:8])
        assert outcome_ids(writer.write_batch(outcomes)) == outcome_ids(outcomes)

    def test_what_it_passes_on_is_durable(self, writer: OutcomeWriter) -> None:
        outcomes = make_outcomes(uuid.uuid4().hex[:8])
        passed = writer.write_batch(outcomes)
        assert self.read_back(outcomes) == set(outcome_ids(passed))

    def test_empty_batch(self, writer: OutcomeWriter) -> None:
        assert writer.write_batch([]) == []

    def test_replay_is_passed_on_and_keeps_the_committed_verdict(self, writer: OutcomeWriter) -> None:
        tag = uuid.uuid4().hex[:8]
        first = make_outcomes(tag)
        writer.write_batch(first)
        changed = [
            Outcome(o.envelope, verdict=o.verdict.model_copy(update={"action": Action.ALLOW})) if o.verdict else o
            for o in first
        ]
        again = writer.write_batch(changed)
        assert outcome_ids(again) == outcome_ids(first)
        for before, after in zip(first, again, strict=True):
            if before.verdict is not None and after.verdict is not None and self.keeps_committed_verdicts:
                assert after.verdict.action == before.verdict.action

    keeps_committed_verdicts = True

    def test_runs_as_a_beam_step(self) -> None:
        outcomes = make_outcomes(uuid.uuid4().hex[:8])
        with beam.Pipeline(runner="FnApiRunner") as root:
            _ = root | beam.Create(outcomes) | WriteOutcomes(self.make_writer())
        assert self.read_back(outcomes) == set(outcome_ids(outcomes))
