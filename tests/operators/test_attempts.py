"""Dead letters count real tries: a stage's own retries plus the tries of earlier deliveries (replays)."""

from __future__ import annotations

import datetime as dt

from guardstream.operators.envelope import ATTEMPTS_HEADER, Envelope
from guardstream.operators.kafka_source import prior_attempts
from guardstream.pipeline.commands.replay import select_payloads
from guardstream.schemas.dead_letter import Stage


def test_a_first_delivery_counts_the_stage_tries() -> None:
    envelope = Envelope(payload=b"{}", topic="t", partition=0, offset=7)
    assert envelope.dead_letter(Stage.PARSE, "bad").attempt == 1
    assert envelope.dead_letter(Stage.FETCH, "HTTP status 503", tries=3).attempt == 3


def test_a_replay_counts_on_from_the_tries_it_carries() -> None:
    replayed = Envelope(payload=b"{}", topic="t", partition=0, offset=9, prior_attempts=3)
    assert replayed.dead_letter(Stage.FETCH, "HTTP status 503", tries=2).attempt == 5


def test_the_attempts_header_is_read_defensively() -> None:
    assert prior_attempts(None) == 0
    assert prior_attempts([("other", b"4")]) == 0
    assert prior_attempts([(ATTEMPTS_HEADER, b"4")]) == 4
    assert prior_attempts([(ATTEMPTS_HEADER, b"not a number")]) == 0
    assert prior_attempts([(ATTEMPTS_HEADER, b"-3")]) == 0
    assert prior_attempts([(ATTEMPTS_HEADER, None)]) == 0


def _row(payload: bytes, attempt: int, seen: int, stage: str = "fetch") -> dict[str, object]:
    when = dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=seen)
    return {"payload": payload, "upload_id": payload.decode(), "stage": stage, "attempt": attempt,
            "first_seen_at": when}  # fmt: skip


def test_replay_carries_the_most_tries_any_dead_letter_of_the_payload_counted() -> None:
    rows = [_row(b"a", 1, 0), _row(b"b", 3, 1), _row(b"a", 4, 2), _row(b"c", 1, 3, stage="parse")]
    chosen = select_payloads(rows, "fetch", None)
    assert [(r.payload, r.attempts) for r in chosen] == [(b"a", 4), (b"b", 3)]
    assert [r.upload_id for r in select_payloads(rows, None, "c")] == ["c"]
