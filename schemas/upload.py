"""UploadEvent: what arrives on the uploads topic."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Final, Literal

from pydantic import AwareDatetime, Field, StringConstraints, field_validator

from guardstream.schemas._base import Contract

UPLOAD_EVENT_SCHEMA_VERSION: Final = 1
MAX_TEXT_CHARS = 20_000

Identifier = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:\-]+$")]
FreeText = Annotated[str, StringConstraints(max_length=MAX_TEXT_CHARS)]


class MediaType(StrEnum):
    VIDEO = "video"
    IMAGE = "image"


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"


class UploadEvent(Contract):
    """One upload to moderate. Text fields are untrusted user input."""

    schema_version: Literal[1] = UPLOAD_EVENT_SCHEMA_VERSION
    upload_id: Identifier
    tenant: Identifier
    surface: Identifier = Field(description="Where the upload appears, e.g. feed, story, profile, message.")
    media_uri: Annotated[str, StringConstraints(min_length=1, max_length=4096)]
    media_type: MediaType
    content_hash: Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+:[0-9a-fA-F]{16,256}$")] | None = Field(
        default=None, description="Optional '<algo>:<hex>' digest of the media bytes, e.g. 'sha256:…'."
    )
    title: FreeText = ""
    description: FreeText = ""
    transcript: FreeText = ""
    locale: Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")] = "en"
    region: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$|^ZZ$")] = "ZZ"
    created_at: AwareDatetime
    priority: Priority = Priority.NORMAL
    policy_set_override: Identifier | None = Field(
        default=None, description="Requested policy set; honoured only if the routing table allows it."
    )

    @field_validator("media_uri")
    @classmethod
    def _uri_has_scheme(cls, value: str) -> str:
        if "://" not in value:
            raise ValueError("media_uri must be an absolute URI with a scheme, e.g. file:///… or https://…")
        return value

    @property
    def created_at_utc(self) -> datetime:
        return self.created_at
