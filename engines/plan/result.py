"""What a plan answers for one upload: the fused score of every policy with each guard's part, and which guards
ran. `PlanResult` is a `GuardResult` (and `FusedScore` a `PolicyScore`), so everything that carries guard results
(Serve handles, RunInference, the wire codec) carries plan results unchanged."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from guardstream.engines.base import GuardResult, PolicyScore


@dataclass(frozen=True)
class FusedScore(PolicyScore):
    """A policy's fused probability; `guard_scores` holds each guard's own (guard, p) in the order they ran.
    `error` names the guard that failed for this policy: the policy fails closed, the others stand."""

    guard_scores: tuple[tuple[str, float], ...] = ()
    error: str | None = None
    failed_guard: str | None = None


@dataclass(frozen=True)
class GuardCall:
    """One member guard's part in one upload: the policies it was asked, and whether it answered."""

    guard: str
    version: str
    stage: int
    policy_ids: tuple[str, ...]
    error: str | None = None
    latency_ms: float | None = None


@dataclass(frozen=True)
class PlanResult(GuardResult):
    plan_id: str = ""
    plan_version: str = ""
    guards_run: tuple[GuardCall, ...] = ()

    @property
    def policy_errors(self) -> dict[str, str]:
        return {s.policy_id: s.error for s in self.scores if isinstance(s, FusedScore) and s.error}


def plan_result_to_dict(result: PlanResult) -> dict[str, Any]:
    """JSON-ready form (the wire codec's part for plan results)."""
    return {
        "plan_id": result.plan_id,
        "plan_version": result.plan_version,
        "guards_run": [
            {"guard": c.guard, "version": c.version, "stage": c.stage, "policy_ids": list(c.policy_ids),
             "error": c.error, "latency_ms": c.latency_ms}
            for c in result.guards_run
        ],
        "fused": [
            {"guard_scores": [[g, p] for g, p in s.guard_scores], "error": s.error, "failed_guard": s.failed_guard}
            for s in result.scores
            if isinstance(s, FusedScore)
        ],
    }  # fmt: skip


def plan_result_from_dict(base: GuardResult, raw: dict[str, Any]) -> PlanResult:
    """Rebuild a PlanResult from the plain GuardResult fields plus `plan_result_to_dict`'s output."""
    fused = raw.get("fused") or []
    if len(fused) != len(base.scores):
        raise ValueError("plan result: one fused entry per score expected")
    scores = tuple(
        FusedScore(
            s.policy_id, s.probability, s.explanation, s.evidence,
            tuple((str(g), float(p)) for g, p in f.get("guard_scores") or ()), f.get("error"), f.get("failed_guard"),
        )
        for s, f in zip(base.scores, fused, strict=True)
    )  # fmt: skip
    calls = tuple(
        GuardCall(str(c["guard"]), str(c["version"]), int(c["stage"]), tuple(c["policy_ids"]), c.get("error"),
                  None if c.get("latency_ms") is None else float(c["latency_ms"]))
        for c in raw.get("guards_run") or ()
    )  # fmt: skip
    return PlanResult(
        base.request_id, scores, base.error, dict(base.timings_ms),
        plan_id=str(raw.get("plan_id", "")), plan_version=str(raw.get("plan_version", "")), guards_run=calls,
    )  # fmt: skip
