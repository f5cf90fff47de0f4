"""Policy, PolicySet (content-hash versioned), routing rules, and the policy-pack loader."""

from __future__ import annotations

import hashlib
import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Final, Literal

import yaml
from pydantic import Field, StringConstraints, ValidationError, computed_field, model_validator

from guardstream.schemas._base import Contract
from guardstream.schemas.plan import ALL_POLICIES, GuardPlan, StageRun
from guardstream.schemas.upload import Identifier

POLICY_SCHEMA_VERSION: Final = 1
PACKS_DIR = Path(__file__).parent / "packs"
DEFAULT_PACK = PACKS_DIR / "default.yaml"

Sentence = Annotated[str, StringConstraints(min_length=3, max_length=2000)]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class EnforcementAction(StrEnum):
    """What crossing a policy's auto-action threshold does (review and hold are set by the aggregator)."""

    LABEL = "label"
    AGE_RESTRICT = "age_restrict"
    BLOCK = "block"


class Thresholds(Contract):
    """Probability thresholds: ≥ auto_action → the policy's action; ≥ review → human review."""

    review: Probability = 0.5
    auto_action: Probability = 0.85

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if self.review > self.auto_action:
            raise ValueError("thresholds.review must be <= thresholds.auto_action")
        return self


class Policy(Contract):
    """One safety policy (a SafeWatch-Bench subcategory), written to be read by people and by guards."""

    schema_version: Literal[1] = POLICY_SCHEMA_VERSION
    id: Identifier
    category: Annotated[str, StringConstraints(pattern=r"^C[1-9][0-9]*$")]
    category_title: Sentence
    title: Sentence
    definition: Sentence
    blocked: Annotated[tuple[Sentence, ...], Field(min_length=1)]
    allowed: tuple[Sentence, ...] = ()
    examples_violating: Annotated[tuple[Sentence, ...], Field(min_length=1)]
    examples_benign: tuple[Sentence, ...] = ()
    severity: Severity
    action: EnforcementAction = EnforcementAction.BLOCK
    thresholds: Thresholds = Thresholds()

    def prompt_text(self) -> str:
        """The policy as one text chunk for guards (definition, then blocked and allowed clauses)."""
        blocked = "\n".join(f"- {c}" for c in self.blocked)
        allowed = "\n".join(f"- {c}" for c in self.allowed)
        return f"[{self.id}] {self.title}: {self.definition}\nBlocked:\n{blocked}\nAllowed:\n{allowed}"


class PolicySet(Contract):
    """A named, versioned set of policies. The version is a content hash, so any edit is a new version."""

    schema_version: Literal[1] = POLICY_SCHEMA_VERSION
    id: Identifier
    description: str = ""
    policies: Annotated[tuple[Policy, ...], Field(min_length=1)]

    @model_validator(mode="after")
    def _unique_ids(self) -> PolicySet:
        seen: set[str] = set()
        for policy in self.policies:
            if policy.id in seen:
                raise ValueError(f"duplicate policy id {policy.id!r}")
            seen.add(policy.id)
        return self

    @computed_field  # type: ignore[prop-decorator]
    @property
    def version(self) -> str:
        body = self.model_dump(mode="json", exclude={"version"})
        digest = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
        return f"sha256:{digest[:16]}"

    def policy(self, policy_id: str) -> Policy:
        for policy in self.policies:
            if policy.id == policy_id:
                return policy
        raise KeyError(f"policy {policy_id!r} is not in policy set {self.id!r}")

    @property
    def policy_ids(self) -> tuple[str, ...]:
        return tuple(p.id for p in self.policies)


class RoutingRule(Contract):
    """Match on tenant / surface / region ('*' is a wildcard); the first matching rule wins."""

    tenant: str = "*"
    surface: str = "*"
    region: str = "*"
    policy_set: Identifier
    shadow: tuple[Identifier, ...] = Field(
        default=(), description="Policy sets also scored for matching uploads: recorded in the lake, never enforced."
    )

    def matches(self, tenant: str, surface: str, region: str) -> bool:
        pairs = ((self.tenant, tenant), (self.surface, surface), (self.region, region))
        return all(pattern in ("*", value) for pattern, value in pairs)


class RoutingTable(Contract):
    """Routing rules plus the policy sets they name and the overrides an upload may request."""

    schema_version: Literal[1] = POLICY_SCHEMA_VERSION
    rules: Annotated[tuple[RoutingRule, ...], Field(min_length=1)]
    known_tenants: Annotated[tuple[Identifier | Literal["*"], ...], Field(min_length=1)] = Field(
        description='Tenants this table routes; any other tenant is a dead letter. "*" accepts every tenant '
        "(an explicit opt-in: a forgotten list must not route unknown tenants to a default policy set)."
    )
    allowed_overrides: tuple[Identifier, ...] = ()


class PolicyPack(Contract):
    """What a pack file holds: policy sets and the routing table over them."""

    schema_version: Literal[1] = POLICY_SCHEMA_VERSION
    policy_sets: Annotated[tuple[PolicySet, ...], Field(min_length=1)]
    routing: RoutingTable
    plans: tuple[GuardPlan, ...] = Field(default=(), description="Guard plans (cascades) over the policy sets.")

    @model_validator(mode="after")
    def _references_resolve(self) -> PolicyPack:
        names = {s.id for s in self.policy_sets}
        if len(names) != len(self.policy_sets):
            raise ValueError("duplicate policy set id")
        for i, rule in enumerate(self.routing.rules):
            if rule.policy_set not in names:
                raise ValueError(f"routing.rules[{i}].policy_set {rule.policy_set!r} names no policy set")
            for name in rule.shadow:
                if name not in names or name == rule.policy_set:
                    raise ValueError(f"routing.rules[{i}].shadow {name!r} names no other policy set")
        for name in self.routing.allowed_overrides:
            if name not in names:
                raise ValueError(f"routing.allowed_overrides names unknown policy set {name!r}")
        if len({p.id for p in self.plans}) != len(self.plans):
            raise ValueError("plans: duplicate plan id")
        for i, plan in enumerate(self.plans):
            if plan.policy_set not in names:
                raise ValueError(f"plans[{i}].policy_set {plan.policy_set!r} names no policy set")
            _check_plan_policies(plan, self.policy_set(plan.policy_set), f"plans[{i}]")
        return self

    def policy_set(self, set_id: str) -> PolicySet:
        for policy_set in self.policy_sets:
            if policy_set.id == set_id:
                return policy_set
        raise KeyError(f"unknown policy set {set_id!r}")


def _check_plan_policies(plan: GuardPlan, policy_set: PolicySet, where: str) -> None:
    """Every policy id a plan names is in its set, and every policy is scored by an enabled 'always' guard."""
    known = set(policy_set.policy_ids)
    for i, stage in enumerate(plan.stages):
        for j, member in enumerate(stage.guards):
            unknown = [] if member.policies == ALL_POLICIES else [p for p in member.policies if p not in known]
            if unknown:
                raise ValueError(f"{where}.stages[{i}].guards[{j}].policies: {unknown} not in set {policy_set.id!r}")
    unknown = sorted(set(plan.policy_fusion) - known)
    if unknown:
        raise ValueError(f"{where}.policy_fusion: {unknown} not in set {policy_set.id!r}")
    covered: set[str] = set()
    for stage in plan.stages:
        for member in stage.guards:
            if stage.run is StageRun.ALWAYS and member.enabled:
                covered |= known if member.policies == ALL_POLICIES else set(member.policies)
    if known - covered:
        raise ValueError(f"{where}.stages: {sorted(known - covered)} scored by no enabled guard of an 'always' stage")


class PolicyPackError(ValueError):
    """A policy pack failed validation; the message names the offending field path."""


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"]) or "<pack>"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


def parse_policy_pack(data: Any, source: str = "<memory>") -> PolicyPack:
    """Validate a pack from already-parsed data; raise PolicyPackError naming the field on failure."""
    try:
        return PolicyPack.model_validate(data)
    except ValidationError as exc:
        raise PolicyPackError(f"invalid policy pack {source}: {_describe(exc)}") from None


def load_policy_pack(path: Path | str = DEFAULT_PACK) -> PolicyPack:
    """Load and validate a YAML or JSON policy pack file."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise PolicyPackError(f"cannot read policy pack {path}: {exc}") from None
    return parse_policy_pack(data, source=str(path))
