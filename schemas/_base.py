"""Shared base for every contract that crosses a process boundary."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Contract(BaseModel):
    """Frozen, strict-about-unknown-fields base model for all wire contracts."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)
