"""ReviewFeedback: a human reviewer's decision on one policy of one upload, published to the
`guardstream.feedback` topic and kept in the lake table `feedback`. It carries no reviewer identity (no name,
e-mail or id: decisions are auditable by upload, policy and time, reviewers stay out of the data set) and no
upload text (the text is joined from the upload event when a manifest is built)."""

from __future__ import annotations

import hashlib
from enum import StrEnum
from typing import Annotated, Final, Literal

import pyarrow as pa
from pydantic import AwareDatetime, StringConstraints, computed_field

from guardstream.schemas._base import Contract
from guardstream.schemas.upload import Identifier

FEEDBACK_SCHEMA_VERSION: Final = 1


class ReviewDecision(StrEnum):
    VIOLATES = "violates"
    DOES_NOT_VIOLATE = "does_not_violate"


class ReviewFeedback(Contract):
    """One reviewed (upload, policy) decision. `guard_version` / `policy_set_version`: what the reviewed verdict
    recorded (optional), so a refit can tell which model's mistakes it learns from."""

    schema_version: Literal[1] = FEEDBACK_SCHEMA_VERSION
    upload_id: Identifier
    policy_id: Identifier
    decision: ReviewDecision
    decided_at: AwareDatetime
    policy_set_version: Annotated[str, StringConstraints(max_length=128)] | None = None
    guard_version: Annotated[str, StringConstraints(max_length=256)] | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def feedback_id(self) -> str:
        """Idempotency key: the same decision re-published is one lake row."""
        key = f"{self.upload_id}|{self.policy_id}|{self.decision.value}|{self.decided_at.isoformat()}"
        return hashlib.sha256(key.encode()).hexdigest()[:32]


FEEDBACK_ARROW = pa.schema(
    [
        pa.field("feedback_id", pa.string(), nullable=False),
        pa.field("schema_version", pa.int32(), nullable=False),
        pa.field("upload_id", pa.string(), nullable=False),
        pa.field("policy_id", pa.string(), nullable=False),
        pa.field("decision", pa.string(), nullable=False),
        pa.field("decided_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("policy_set_version", pa.string()),
        pa.field("guard_version", pa.string()),
    ]
)


def feedback_to_arrow(rows: list[ReviewFeedback]) -> pa.Table:
    return pa.Table.from_pylist([r.model_dump(mode="python") for r in rows], schema=FEEDBACK_ARROW)
