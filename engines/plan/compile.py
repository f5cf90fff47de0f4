"""Resolve a GuardPlan against its policy set and the guard registry: wildcards expanded, disabled members dropped
(or switched on by the operator), every policy covered by a guard that always runs, every guard registered."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from guardstream.schemas.plan import ALL_POLICIES, Fusion, GuardPlan, Merge, StageRun
from guardstream.schemas.policy import PolicyPack, PolicySet


class PlanError(ValueError):
    """The plan cannot run as configured; the message names the field and what fixes it."""


@dataclass(frozen=True)
class Member:
    guard: str
    policy_ids: tuple[str, ...]


@dataclass(frozen=True)
class Stage:
    index: int
    name: str
    run: StageRun
    unsure_band: float
    merge: Merge
    members: tuple[Member, ...]


@dataclass(frozen=True)
class CompiledPlan:
    plan: GuardPlan
    policy_set: PolicySet
    stages: tuple[Stage, ...]

    @property
    def id(self) -> str:
        return self.plan.id

    @property
    def guard_name(self) -> str:
        """What verdicts name as their guard: the plan, not one member."""
        return f"plan:{self.plan.id}"

    @property
    def guards(self) -> tuple[str, ...]:
        return tuple(m.guard for s in self.stages for m in s.members)

    def fusion_for(self, policy_id: str) -> Fusion:
        return self.plan.fusion_for(policy_id)

    def version(self, guard_versions: Mapping[str, str]) -> str:
        """The plan version verdicts carry: the plan's content, which members are on, and each member's resolved
        version. Any change to one of them is a new idempotency key."""
        missing = [g for g in self.guards if g not in guard_versions]
        if missing:
            raise PlanError(f"plan {self.id!r}: no resolved version for guards {missing}")
        body = self.plan.version + "|" + ",".join(f"{g}={guard_versions[g]}" for g in sorted(self.guards))
        return f"sha256:{hashlib.sha256(body.encode()).hexdigest()[:16]}"


def compile_plan(
    plan: GuardPlan,
    policy_set: PolicySet,
    *,
    enable: Collection[str] = (),
    registered: Collection[str] | None = None,
) -> CompiledPlan:
    """Resolve `plan`; `enable` switches on members the pack leaves off (e.g. the explainer once real weights are
    configured). Raise PlanError naming the field on anything that cannot run."""
    where = f"plans[{plan.id}]"
    members_all = {m.guard for s in plan.stages for m in s.guards}
    unknown = sorted(set(enable) - members_all)
    if unknown:
        raise PlanError(f"guards.enable names {unknown}: not members of plan {plan.id!r} ({sorted(members_all)})")
    if plan.policy_set != policy_set.id:
        raise PlanError(f"{where}.policy_set is {plan.policy_set!r}, compiled against set {policy_set.id!r}")
    stages = []
    for i, stage in enumerate(plan.stages):
        members = []
        for j, m in enumerate(stage.guards):
            if not (m.enabled or m.guard in enable):
                continue
            if registered is not None and m.guard not in registered:
                raise PlanError(
                    f"{where}.stages[{i}].guards[{j}].guard: {m.guard!r} is not a registered guard; registered: "
                    f"{sorted(registered)}"
                )
            ids = policy_set.policy_ids if m.policies == ALL_POLICIES else tuple(m.policies)
            members.append(Member(m.guard, ids))
        if members:
            stages.append(Stage(i, stage.name, stage.run, stage.unsure_band, stage.merge, tuple(members)))
    compiled = CompiledPlan(plan, policy_set, tuple(stages))
    _check_coverage(compiled, where)
    return compiled


def _check_coverage(plan: CompiledPlan, where: str) -> None:
    always = {p for s in plan.stages if s.run is StageRun.ALWAYS for m in s.members for p in m.policy_ids}
    uncovered = [p for p in plan.policy_set.policy_ids if p not in always]
    if uncovered:
        raise PlanError(f"{where}.stages: policies {uncovered} are scored by no enabled guard of an 'always' stage")


def plan_for(pack: PolicyPack, plan_id: str) -> GuardPlan:
    for plan in pack.plans:
        if plan.id == plan_id:
            return plan
    raise PlanError(f"unknown plan {plan_id!r}; the pack defines {[p.id for p in pack.plans]}")


def compile_from_pack(
    pack: PolicyPack, plan_id: str, *, enable: Collection[str] = (), registered: Collection[str] | None = None
) -> CompiledPlan:
    plan = plan_for(pack, plan_id)
    return compile_plan(plan, pack.policy_set(plan.policy_set), enable=enable, registered=registered)
