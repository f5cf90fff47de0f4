"""DeadLetter: an upload event (or its raw bytes) that could not become a verdict, with the reason."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Final, Literal

from pydantic import AwareDatetime, ConfigDict, Field, StringConstraints

from schemas._base import Contract

DEAD_LETTER_SCHEMA_VERSION: Final = 1


class Stage(StrEnum):
    PARSE = "parse"
    VALIDATE = "validate"
    ROUTE = "route"
    FETCH = "fetch"
    PROBE = "probe"
    DECODE = "decode"
    HASH = "hash"
    INFER = "infer"
    AGGREGATE = "aggregate"
    SINK = "sink"


class DeadLetter(Contract):
    """Everything needed to understand and replay a failed upload event."""

    model_config = ConfigDict(frozen=True, extra="forbid", ser_json_bytes="base64", val_json_bytes="base64")

    schema_version: Literal[1] = DEAD_LETTER_SCHEMA_VERSION
    payload: bytes = Field(description="The original message bytes, base64 in JSON.")
    upload_id: str | None = Field(default=None, description="Set when the payload parsed far enough to have one.")
    stage: Stage
    error_class: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    message: Annotated[str, StringConstraints(max_length=2000)]
    attempt: Annotated[int, Field(ge=1)] = 1
    first_seen_at: AwareDatetime
    source_topic: str | None = None
    source_partition: int | None = None
    source_offset: int | None = None
