"""PlanGuard: a whole plan behind the Guard interface, its members loaded in this process. The reference path of
the Serve router (same Cascade, same fusion), the evaluation harness's `--plan`, and the cascade benchmark."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from guardstream.engines.base import (
    BatchLimits,
    Guard,
    GuardRequest,
    GuardResult,
    create_guard,
    registered_guards,
    score_fail_closed,
)
from guardstream.engines.plan.cascade import Cascade
from guardstream.engines.plan.compile import CompiledPlan, compile_from_pack
from guardstream.schemas.policy import DEFAULT_PACK, load_policy_pack


class PlanGuard(Guard):
    """Scores uploads with a plan's cascade over member guards held in this process."""

    name: ClassVar[str] = "plan"

    def __init__(self, plan: CompiledPlan, guards: Mapping[str, Guard]) -> None:
        missing = [g for g in plan.guards if g not in guards]
        if missing:
            raise ValueError(f"plan {plan.id!r} needs guards {missing}")
        self.plan = plan
        self.guards = {g: guards[g] for g in plan.guards}
        self.cascade: Cascade | None = None

    @classmethod
    def from_pack(
        cls,
        plan_id: str = "default",
        pack_path: Path | str = DEFAULT_PACK,
        *,
        enable: Collection[str] = (),
        member_kwargs: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> PlanGuard:
        """Compile `plan_id` from the pack and construct (not load) each enabled member through the registry."""
        plan = compile_from_pack(load_policy_pack(pack_path), plan_id, enable=enable, registered=registered_guards())
        kwargs = member_kwargs or {}
        return cls(plan, {g: create_guard(g, **dict(kwargs.get(g, {}))) for g in plan.guards})

    def load(self) -> None:
        for guard in self.guards.values():
            guard.load()
        self.resolve_version()

    def resolve_version(self) -> None:
        """Build the cascade from the members' resolved versions (members already loaded, e.g. shared by two
        plans in one benchmark)."""
        self.cascade = Cascade(self.plan, {g: str(guard.version) for g, guard in self.guards.items()})
        self.version = self.cascade.version

    def batch_limits(self) -> BatchLimits:
        """The loosest member's request limits: each member still enforces its own, so a request one guard refuses
        fails closed for that guard's policies only."""
        limits = [g.batch_limits() for g in self.guards.values()]
        return BatchLimits(
            max_batch_size=min(lim.max_batch_size for lim in limits),
            max_frames_per_request=max(lim.max_frames_per_request for lim in limits),
            max_bytes_per_request=max(lim.max_bytes_per_request for lim in limits),
            max_policies_per_request=max(lim.max_policies_per_request for lim in limits),
        )

    def warmup(self) -> None:
        for guard in self.guards.values():
            guard.warmup()

    def check_health(self) -> None:
        if self.cascade is None:
            raise RuntimeError(f"{self.plan.guard_name} is not loaded")
        for guard in self.guards.values():
            guard.check_health()

    def close(self) -> None:
        for guard in self.guards.values():
            guard.close()

    def score_batch(self, requests: Sequence[GuardRequest]) -> list[GuardResult]:
        if self.cascade is None:
            raise RuntimeError(f"{self.plan.guard_name} is not loaded")
        return list(self.cascade.run(requests, lambda g, batch: score_fail_closed(self.guards[g], batch)))
