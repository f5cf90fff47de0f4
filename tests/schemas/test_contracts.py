"""Contract round trips (JSON ⇄ model ⇄ Arrow) and validation errors that name the field."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from guardstream.schemas import Action, DeadLetter, UploadEvent, Verdict
from guardstream.schemas.arrow import from_arrow, to_arrow
from tests.conftest import make_event, make_verdict


def make_dead_letter() -> DeadLetter:
    return DeadLetter(
        payload=b"\x00\xffnot json{",
        upload_id="up-1",
        stage="parse",
        error_class="JSONDecodeError",
        message="Expecting value: line 1 column 1",
        attempt=2,
        first_seen_at=dt.datetime(2026, 11, 29, tzinfo=dt.UTC),
        source_topic="guardstream.uploads",
        source_partition=1,
        source_offset=42,
    )


def full_event() -> UploadEvent:
    return make_event(
        7,
        content_hash="sha256:" + "ab" * 32,
        description="d",
        transcript="t",
        locale="pt-BR",
        region="BR",
        priority="high",
        policy_set_override="default",
    )


@pytest.mark.parametrize("factory", [full_event, make_verdict, make_dead_letter])
def test_json_model_arrow_round_trip(factory) -> None:  # type: ignore[no-untyped-def]
    model = factory()
    cls = type(model)
    assert cls.model_validate_json(model.model_dump_json()) == model
    table = to_arrow([model, model])
    assert table.num_rows == 2
    assert from_arrow(table, cls) == [model, model]


def test_dead_letter_payload_is_base64_in_json() -> None:
    letter = make_dead_letter()
    raw = letter.model_dump(mode="json")
    assert isinstance(raw["payload"], str) and raw["payload"] != letter.payload.decode("latin-1")
    assert DeadLetter.model_validate_json(letter.model_dump_json()).payload == b"\x00\xffnot json{"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("upload_id", ""),
        ("upload_id", "has space"),
        ("media_uri", "relative/path.mp4"),
        ("media_type", "audio"),
        ("created_at", "2026-11-29T12:00:00"),  # naive timestamps are ambiguous
        ("region", "usa"),
        ("priority", "urgent"),
        ("content_hash", "md5"),
    ],
)
def test_upload_event_error_names_the_field(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as info:
        make_event(1, **{field: value})
    assert field in str(info.value)


def test_upload_event_rejects_unknown_fields() -> None:
    with pytest.raises(ValidationError, match="surprise"):
        make_event(1, surprise=True)


def test_verdict_error_must_fail_closed() -> None:
    with pytest.raises(ValidationError, match="fail closed"):
        make_verdict(1, status="error", action="allow", error="guard timeout")
    held = make_verdict(1, status="error", action="hold", error="guard timeout")
    assert held.action is Action.HOLD


def test_verdict_idempotency_key_and_probability_bounds() -> None:
    verdict = make_verdict(3)
    assert verdict.idempotency_key == "up-00003|sha256:0123456789abcdef|1.0.0"
    assert verdict.model_dump(mode="json")["idempotency_key"] == verdict.idempotency_key
    bad = verdict.model_dump()
    bad["results"][0]["probability"] = float("nan")
    bad.pop("idempotency_key")
    with pytest.raises(ValidationError, match="probability"):
        Verdict.model_validate(bad)


def test_action_order_is_least_to_most_restrictive() -> None:
    assert [a.value for a in sorted(Action, key=lambda a: a.rank)] == [
        "allow",
        "label",
        "age_restrict",
        "review",
        "block",
        "hold",
    ]
