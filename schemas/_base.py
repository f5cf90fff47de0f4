"""Shared base for every contract that crosses a process boundary."""

from __future__ import annotations

from typing import Any, Self

from pydantic import BaseModel, ConfigDict, ModelWrapValidatorHandler, model_validator


class Contract(BaseModel):
    """Frozen, unknown-fields-forbidden base model for all wire contracts.

    Computed fields (a verdict's idempotency key, a policy set's version) appear in serialised output; when a
    message carries them back in, they are checked against the content instead of being trusted.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    @model_validator(mode="wrap")
    @classmethod
    def _verify_computed(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        supplied: dict[str, Any] = {}
        if isinstance(data, dict) and cls.model_computed_fields:
            data = dict(data)
            supplied = {n: data.pop(n) for n in cls.model_computed_fields if n in data}
        model = handler(data)
        for name, value in supplied.items():
            expected = getattr(model, name)
            if value != expected:
                raise ValueError(f"{name} {value!r} does not match the content (expected {expected!r})")
        return model


class Section(BaseModel):
    """One frozen settings section. Each lives beside the code that reads it; pipeline/settings.py composes
    them into the root Settings (only entrypoints read the environment)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
