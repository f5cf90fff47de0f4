"""Verdict: per-upload decision with per-policy results, evidence, and an idempotency key."""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Annotated, Final, Literal

from pydantic import (
    AwareDatetime,
    Field,
    StringConstraints,
    ValidationInfo,
    computed_field,
    field_validator,
    model_validator,
)

from guardstream.schemas._base import Contract
from guardstream.schemas.policy import Severity
from guardstream.schemas.upload import Identifier

VERDICT_SCHEMA_VERSION: Final = 1
MAX_EXPLANATION_CHARS = 2000
MAX_OCR_SPAN_CHARS = 500

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
NonNegative = Annotated[float, Field(ge=0.0)]


class Action(StrEnum):
    """Ordered from least to most restrictive; the upload's action is the most restrictive one earned."""

    ALLOW = "allow"
    LABEL = "label"
    AGE_RESTRICT = "age_restrict"
    REVIEW = "review"
    BLOCK = "block"
    HOLD = "hold"

    @property
    def rank(self) -> int:
        return list(Action).index(self)


class VerdictStatus(StrEnum):
    OK = "ok"
    ERROR = "error"


class RunMode(StrEnum):
    STREAM = "stream"
    BACKFILL = "backfill"


class HashMatch(Contract):
    """A match against a bank of known content (PDQ for images, vPDQ for video)."""

    bank: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    signal_type: Literal["pdq", "vpdq", "sha256"]
    matched_id: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    distance: Annotated[int, Field(ge=0)]
    bank_version: Annotated[int, Field(ge=1)] | None = None
    query_match_pct: Annotated[float, Field(ge=0.0, le=100.0)] | None = None
    compared_match_pct: Annotated[float, Field(ge=0.0, le=100.0)] | None = None


class Evidence(Contract):
    """Where in the upload the guard saw what it scored."""

    timestamps_s: tuple[NonNegative, ...] = ()
    frame_indices: tuple[Annotated[int, Field(ge=0)], ...] = ()
    ocr_span: Annotated[str, StringConstraints(max_length=MAX_OCR_SPAN_CHARS)] | None = None
    text_field: Literal["title", "description", "transcript", "ocr"] | None = None
    hash_match: HashMatch | None = None


class GuardScore(Contract):
    """One guard's own probability for a policy (before fusion)."""

    guard: Identifier
    probability: Probability


class PolicyResult(Contract):
    """`probability` is the fused score of the guards that count for the policy; `guard_scores` holds each guard's
    own score; `error` (naming the guard) means the policy failed closed."""

    policy_id: Identifier
    probability: Probability
    violated: bool
    severity: Severity
    explanation: Annotated[str, StringConstraints(max_length=MAX_EXPLANATION_CHARS)] | None = None
    evidence: Evidence = Evidence()
    guard_scores: tuple[GuardScore, ...] = ()
    error: Annotated[str, StringConstraints(max_length=500)] | None = None

    @field_validator("guard_scores", mode="before")
    @classmethod
    def _absent_is_empty(cls, value: object) -> object:
        return () if value is None else value  # rows written before guard plans existed

    @field_validator("probability", mode="before")
    @classmethod
    def _finite(cls, value: float) -> float:
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("probability must be finite")
        return value


class Latency(Contract):
    """Milliseconds spent per stage; stages that did not run are absent."""

    fetch_ms: NonNegative | None = None
    decode_ms: NonNegative | None = None
    hash_ms: NonNegative | None = None
    infer_ms: NonNegative | None = None
    total_ms: NonNegative | None = None


class GuardRun(Contract):
    """One member guard's part in the verdict: the cascade stage, the policies it was asked, its error if any."""

    guard: Identifier
    version: Annotated[str, StringConstraints(min_length=1, max_length=80)]
    stage: Annotated[int, Field(ge=0)]
    policy_ids: tuple[Identifier, ...]
    error: Annotated[str, StringConstraints(max_length=500)] | None = None
    latency_ms: NonNegative | None = None


def idempotency_key(upload_id: str, policy_set_version: str, guard_version: str) -> str:
    """One verdict per (upload, policy-set version, guard version)."""
    return f"{upload_id}|{policy_set_version}|{guard_version}"


class Verdict(Contract):
    schema_version: Literal[1] = VERDICT_SCHEMA_VERSION
    upload_id: Identifier
    tenant: Identifier
    policy_set_id: Identifier
    policy_set_version: Annotated[str, StringConstraints(min_length=1, max_length=80)]
    guard_name: Identifier
    guard_version: Annotated[str, StringConstraints(min_length=1, max_length=80)]
    action: Action
    status: VerdictStatus
    error: Annotated[str, StringConstraints(max_length=2000)] | None = None
    results: tuple[PolicyResult, ...]
    latency: Latency = Latency()
    produced_at: AwareDatetime
    guards_run: tuple[GuardRun, ...] = Field(default=(), description="Guards of the plan that ran, in order.")
    mode: RunMode = Field(default=RunMode.STREAM, description="Which job decided it: the live stream or a backfill.")
    run_id: Identifier | None = Field(default=None, description="The backfill run that decided it (None: stream).")
    shadow: bool = Field(default=False, description="Scored under a shadow policy set: recorded, never enforced.")

    @field_validator("guards_run", mode="before")
    @classmethod
    def _absent_is_empty(cls, value: object) -> object:
        return () if value is None else value  # rows written before guard plans existed

    @field_validator("mode", "shadow", mode="before")
    @classmethod
    def _absent_is_default(cls, value: object, info: ValidationInfo) -> object:
        if value is not None:
            return value  # rows written before backfills existed hold nulls here
        return RunMode.STREAM if info.field_name == "mode" else False

    @computed_field  # type: ignore[prop-decorator]
    @property
    def idempotency_key(self) -> str:
        return idempotency_key(self.upload_id, self.policy_set_version, self.guard_version)

    @model_validator(mode="after")
    def _consistent(self) -> Verdict:
        if self.status is VerdictStatus.ERROR:
            if self.action not in (Action.HOLD, Action.REVIEW):
                raise ValueError("an error verdict must fail closed: action must be hold or review")
            if not self.error:
                raise ValueError("an error verdict must carry an error message")
        if any(r.error for r in self.results) and self.status is not VerdictStatus.ERROR:
            raise ValueError("a policy that failed closed (results[].error) makes the verdict status error")
        ids = [r.policy_id for r in self.results]
        if len(ids) != len(set(ids)):
            raise ValueError("results must hold at most one entry per policy")
        return self

    @property
    def flagged(self) -> tuple[PolicyResult, ...]:
        return tuple(r for r in self.results if r.violated)
