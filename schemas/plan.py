"""GuardPlan: which guards score which policies of a policy set, how their probabilities combine, and the cascade
(stage order, cheap guards first; an escalated stage runs only for the policies an earlier stage flagged or is
unsure about). A plan is data in the policy pack (`plans:`); its content hash is part of the plan version that
verdicts carry, so a plan edit is auditable like a policy edit."""

from __future__ import annotations

import hashlib
import json
from enum import StrEnum
from typing import Annotated, Final, Literal

from pydantic import Field, StringConstraints, computed_field, field_validator, model_validator

from guardstream.schemas._base import Contract
from guardstream.schemas.upload import Identifier

PLAN_SCHEMA_VERSION: Final = 1
ALL_POLICIES: Final = "*"

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
GuardName = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_\-]*$")]


class Combine(StrEnum):
    """How the probabilities of the guards that scored one policy become one.

    MAX: the most alarmed guard decides. NOISY_OR: 1 − Π(1 − pᵢ), independent experts. WEIGHTED: logistic fusion
    σ(bias + Σ wᵢ·logit pᵢ) over the guards that scored the policy, weights fitted on labelled data."""

    MAX = "max"
    NOISY_OR = "noisy_or"
    WEIGHTED = "weighted"


class FusionWeights(Contract):
    """Fitted logistic-fusion weights for one policy (see `guardstream.engines.plan.fusion.fit_fusion`)."""

    bias: float = 0.0
    weights: dict[GuardName, float] = Field(min_length=1)
    fitted_on: Annotated[str, StringConstraints(max_length=500)] = Field(
        default="", description="Provenance: which labelled manifest (and how many items) the weights came from."
    )


class Fusion(Contract):
    combine: Combine = Combine.MAX
    weights: FusionWeights | None = None

    @model_validator(mode="after")
    def _weights_iff_weighted(self) -> Fusion:
        if (self.combine is Combine.WEIGHTED) != (self.weights is not None):
            raise ValueError("weights: required when combine is 'weighted', and only then")
        return self


class StageRun(StrEnum):
    """ALWAYS: every upload, every policy the stage's guards score. ESCALATED: only the policies whose score so
    far is at or above (review threshold − unsure_band), per upload — cheap guards flagged or are unsure."""

    ALWAYS = "always"
    ESCALATED = "escalated"


class Merge(StrEnum):
    """How a stage's scores meet the earlier ones. FUSE: all scores of the policy are fused together. OVERRIDE:
    for the policies this stage scored, its fused score replaces the earlier one (a verifier that can also clear
    a cheap guard's false positive); every guard's score stays in the verdict either way."""

    FUSE = "fuse"
    OVERRIDE = "override"


class PlanMember(Contract):
    guard: GuardName = Field(description="Registry name of the guard.")
    policies: Literal["*"] | Annotated[tuple[Identifier, ...], Field(min_length=1)] = Field(
        default=ALL_POLICIES, description="Policy ids this guard scores ('*': every policy of the set)."
    )
    enabled: bool = True
    note: Annotated[str, StringConstraints(max_length=500)] = ""


class PlanStage(Contract):
    name: Identifier
    run: StageRun = StageRun.ALWAYS
    unsure_band: Probability = Field(default=0.15, description="Escalate when score ≥ review − unsure_band.")
    merge: Merge = Merge.FUSE
    guards: Annotated[tuple[PlanMember, ...], Field(min_length=1)]

    @model_validator(mode="after")
    def _unique_guards(self) -> PlanStage:
        names = [m.guard for m in self.guards]
        if len(names) != len(set(names)):
            raise ValueError(f"guards: a guard is listed twice in stage {self.name!r}")
        return self


class GuardPlan(Contract):
    """A cascade of guard stages over one policy set, with per-policy fusion."""

    schema_version: Literal[1] = PLAN_SCHEMA_VERSION
    id: Identifier
    policy_set: Identifier
    description: str = ""
    stages: Annotated[tuple[PlanStage, ...], Field(min_length=1)]
    fusion: Fusion = Fusion()
    policy_fusion: dict[Identifier, Fusion] = Field(default_factory=dict, description="Per-policy overrides.")

    @field_validator("stages")
    @classmethod
    def _first_stage_always(cls, stages: tuple[PlanStage, ...]) -> tuple[PlanStage, ...]:
        if stages[0].run is not StageRun.ALWAYS:
            raise ValueError("the first stage must run 'always' (nothing earlier can escalate to it)")
        guards = [m.guard for s in stages for m in s.guards]
        if len(guards) != len(set(guards)):
            raise ValueError("a guard may appear in only one stage")
        return stages

    @model_validator(mode="after")
    def _weights_name_members(self) -> GuardPlan:
        members = {m.guard for s in self.stages for m in s.guards}
        named = [("fusion", self.fusion), *((f"policy_fusion.{k}", v) for k, v in self.policy_fusion.items())]
        for where, fusion in named:
            unknown = sorted(set(fusion.weights.weights) - members) if fusion.weights else []
            if unknown:
                raise ValueError(f"{where}.weights names guards not in the plan: {unknown}")
        return self

    def fusion_for(self, policy_id: str) -> Fusion:
        return self.policy_fusion.get(policy_id, self.fusion)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def version(self) -> str:
        """Content hash of the plan (member guard versions are added when the plan is compiled)."""
        body = self.model_dump(mode="json", exclude={"version"})
        digest = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
        return f"sha256:{digest[:16]}"
