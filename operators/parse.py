"""ParseUploads: raw bytes → validated UploadEvent on the envelope; anything else → dead letter with the reason."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, NamedTuple

import apache_beam as beam
from apache_beam.metrics import Metrics
from pydantic import ValidationError

from guardstream.operators.envelope import Envelope
from guardstream.schemas.dead_letter import DeadLetter, Stage
from guardstream.schemas.upload import UploadEvent

FAILED = "failed"
MAX_EVENT_BYTES = 256 * 1024


class ParsedUploads(NamedTuple):
    uploads: beam.PCollection[Envelope]  # with .event set
    failed: beam.PCollection[DeadLetter]


def describe_validation_error(exc: ValidationError) -> str:
    """One line naming each failing field, without echoing untrusted input: neither values nor the names of
    fields the schema does not have."""
    parts = []
    for error in exc.errors():
        where = "<extra field>" if error["type"] == "extra_forbidden" else ".".join(str(p) for p in error["loc"])
        parts.append(f"{where or '<event>'}: {error['msg']}")
    return "; ".join(parts)


def parse_upload(payload: bytes) -> UploadEvent:
    """Decode and validate one message. Raises ValueError (parse) or ValidationError (schema)."""
    if len(payload) > MAX_EVENT_BYTES:
        raise ValueError(f"event is {len(payload)} bytes, over the {MAX_EVENT_BYTES}-byte limit")
    try:
        data = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not UTF-8 JSON: {exc}") from None
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    if not isinstance(data, dict):
        raise ValueError(f"event must be a JSON object, got {type(data).__name__}")
    return UploadEvent.model_validate(data)


class _ParseFn(beam.DoFn):
    def __init__(self) -> None:
        self.invalid = Metrics.counter("guardstream.validate", "invalid_events")

    def process(self, envelope: Envelope) -> Iterator[Any]:
        try:
            event = parse_upload(envelope.payload)
        except ValidationError as exc:
            self.invalid.inc()
            letter = envelope.dead_letter(Stage.VALIDATE, describe_validation_error(exc), "ValidationError")
            yield beam.pvalue.TaggedOutput(FAILED, letter)
            return
        except Exception as exc:  # ValueError from parse_upload, or anything unforeseen: never crash the job
            self.invalid.inc()
            yield beam.pvalue.TaggedOutput(FAILED, envelope.dead_letter(Stage.PARSE, exc))
            return
        yield envelope.with_event(event)


class ParseUploads(beam.PTransform[beam.PCollection[Envelope], ParsedUploads]):
    """Parse and validate upload events; malformed or invalid ones leave through `failed`."""

    # Any, not the element type: Beam reads expand's annotations as runtime type hints (checks and coders).
    def expand(self, envelopes: beam.PCollection[Any]) -> ParsedUploads:
        results = envelopes | beam.ParDo(_ParseFn()).with_outputs(FAILED, main="uploads")
        return ParsedUploads(uploads=results.uploads, failed=results[FAILED])
