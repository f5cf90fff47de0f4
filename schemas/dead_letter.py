"""DeadLetter: an upload event (or its raw bytes) that could not become a verdict, with the reason."""

from __future__ import annotations

import hashlib
from enum import StrEnum
from typing import Annotated, Any, Final, Literal

from pydantic import AwareDatetime, ConfigDict, Field, StringConstraints, computed_field

from guardstream.schemas._base import Contract

DEAD_LETTER_SCHEMA_VERSION: Final = 1
MAX_PAYLOAD_BYTES: Final = 256 * 1024  # larger payloads keep their head, size and digest (Kafka caps records)


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
    payload: bytes = Field(description="The original message bytes (the first MAX_PAYLOAD_BYTES), base64 in JSON.")
    payload_size: Annotated[int, Field(ge=0)] | None = Field(default=None, description="Original size in bytes.")
    payload_sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")] | None = None
    payload_truncated: bool = False
    upload_id: str | None = Field(default=None, description="Set when the payload parsed far enough to have one.")
    stage: Stage
    error_class: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    message: Annotated[str, StringConstraints(max_length=2000)]
    attempt: Annotated[int, Field(ge=1)] = Field(
        default=1,
        description="Real tries of this payload at this stage, all deliveries together: the failing stage's tries "
        "(a fetch retries transient errors) plus those of earlier deliveries (`guardstream replay` carries them).",
    )
    first_seen_at: AwareDatetime
    source_topic: str | None = None
    source_partition: int | None = None
    source_offset: int | None = None

    @classmethod
    def capture(cls, payload: bytes, **fields: Any) -> DeadLetter:
        """A dead letter keeping the payload whole when it fits, else its head plus size and digest."""
        truncated = len(payload) > MAX_PAYLOAD_BYTES
        return cls(
            payload=payload[:MAX_PAYLOAD_BYTES],
            payload_size=len(payload),
            payload_sha256=hashlib.sha256(payload).hexdigest(),
            payload_truncated=truncated,
            **fields,
        )

    @computed_field  # type: ignore[prop-decorator]
    @property
    def dead_letter_id(self) -> str:
        """Idempotency key: the same source record failing at the same stage is one dead letter, however often
        it is re-read (records without a source position are keyed by their payload digest)."""
        if self.source_topic is not None and self.source_partition is not None and self.source_offset is not None:
            return f"{self.source_topic}|{self.source_partition}|{self.source_offset}|{self.stage.value}"
        digest = self.payload_sha256 or hashlib.sha256(self.payload).hexdigest()
        return f"sha256:{digest}|{self.stage.value}"
