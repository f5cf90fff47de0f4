"""The committed JSON Schema files and the explicit Arrow schemas must match the models."""

from __future__ import annotations

import json

import jsonschema

from guardstream.schemas.arrow import arrow_drift
from guardstream.schemas.generate import CONTRACTS, load_json_schema, render, stale
from tests.conftest import make_verdict
from tests.schemas.test_contracts import full_event, make_dead_letter


def test_committed_json_schemas_are_fresh() -> None:
    assert stale() == [], "run `make schemas` and commit schemas/json/"


def test_arrow_schemas_cover_every_model_field() -> None:
    for example in (full_event(), make_verdict(1), make_dead_letter()):
        assert arrow_drift(example) == [], type(example).__name__


def test_drift_detector_notices_a_new_field() -> None:
    rendered = json.loads(render("verdict"))
    assert "idempotency_key" in rendered["properties"]
    assert set(CONTRACTS) == {"upload_event", "verdict", "dead_letter", "policy_pack", "feedback"}


def test_serialised_verdict_validates_against_committed_schema() -> None:
    message = json.loads(make_verdict(2).model_dump_json())
    jsonschema.validate(message, load_json_schema("verdict"))
    message["action"] = "shrug"
    try:
        jsonschema.validate(message, load_json_schema("verdict"))
    except jsonschema.ValidationError as exc:
        assert "shrug" in str(exc)
    else:
        raise AssertionError("an unknown action validated")


def test_dead_letter_json_validates_against_committed_schema() -> None:
    jsonschema.validate(json.loads(make_dead_letter().model_dump_json()), load_json_schema("dead_letter"))
