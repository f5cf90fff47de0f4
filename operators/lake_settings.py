"""Iceberg lake settings: the section the lake writers and readers use."""

from __future__ import annotations

from pydantic import Field

from guardstream.operators.objectstore_settings import ObjectStoreSettings
from guardstream.schemas._base import Section


class LakeSettings(Section):
    catalog_name: str = "guardstream"
    catalog_uri: str | None = Field(default=None, description="SQLAlchemy URI; None → sqlite in the stack home.")
    warehouse: str | None = Field(default=None, description="Warehouse URI; None → folder in the stack home.")
    namespace: str = "moderation"
    verdicts_table: str = "verdicts"
    dead_letters_table: str = "dead_letters"
    commit_retries: int = Field(default=8, ge=1)
    outage_retry_s: float = Field(
        default=180.0, ge=0, description="How long a write retries I/O errors of the warehouse store (a restart)."
    )
    store: ObjectStoreSettings | None = Field(default=None, description="Object store of an s3:// warehouse.")
