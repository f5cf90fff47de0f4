"""Turn a guard's (or a plan's) per-policy scores into a Verdict: thresholds → action; any error → HOLD (fail
closed), a plan member's error only for the policies it was asked."""

from __future__ import annotations

import datetime as dt

from guardstream.engines.base import GuardResult, PolicyScore
from guardstream.engines.plan.result import FusedScore, PlanResult
from guardstream.schemas.policy import EnforcementAction, Policy, PolicySet
from guardstream.schemas.upload import UploadEvent
from guardstream.schemas.verdict import (
    MAX_EXPLANATION_CHARS,
    Action,
    GuardRun,
    GuardScore,
    Latency,
    PolicyResult,
    Verdict,
    VerdictStatus,
)

_ENFORCEMENT_TO_ACTION = {
    EnforcementAction.LABEL: Action.LABEL,
    EnforcementAction.AGE_RESTRICT: Action.AGE_RESTRICT,
    EnforcementAction.BLOCK: Action.BLOCK,
}


def policy_action(policy: Policy, probability: float) -> Action:
    """The action one policy earns: its own action past auto_action, REVIEW past review, else ALLOW."""
    if probability >= policy.thresholds.auto_action:
        return _ENFORCEMENT_TO_ACTION[policy.action]
    if probability >= policy.thresholds.review:
        return Action.REVIEW
    return Action.ALLOW


def most_restrictive(actions: list[Action]) -> Action:
    return max(actions, key=lambda a: a.rank, default=Action.ALLOW)


def build_verdict(
    *,
    event: UploadEvent,
    policy_set: PolicySet,
    guard_name: str,
    guard_version: str,
    result: GuardResult | None,
    error: str | None = None,
    latency: Latency | None = None,
    now: dt.datetime | None = None,
) -> Verdict:
    """Assemble the verdict. No result, an error result, or a result missing a policy → HOLD with status error.

    A plan's result (`PlanResult`) names its plan and version (they win over `guard_name` / `guard_version`, so
    every entry point records what actually scored), keeps each guard's score per policy and which guards ran; a
    policy whose guard failed fails closed (HOLD, the verdict names the guard) while the others keep their scores."""
    if isinstance(result, PlanResult) and result.plan_version:
        guard_name, guard_version = f"plan:{result.plan_id}", result.plan_version
    reason: str | None = None
    if error is not None or result is None or not result.ok:
        reason = error or (result.error if result is not None else None) or "guard error (no message)"
    results: list[PolicyResult] = []
    if reason is None and result is not None:
        by_id = {s.policy_id: s for s in result.scores}
        missing = [p.id for p in policy_set.policies if p.id not in by_id]
        results = [_policy_result(policy_set.policy(s.policy_id), s, guard_name) for s in result.scores]
        failed = [f"{r.policy_id}: {r.error}" for r in results if r.error]
        reason = "; ".join(([f"guard returned no score for {missing}"] if missing else []) + failed) or None
    if reason is not None:
        action, status = Action.HOLD, VerdictStatus.ERROR
    else:
        status = VerdictStatus.OK
        action = most_restrictive([policy_action(policy_set.policy(r.policy_id), r.probability) for r in results])
    return Verdict(
        upload_id=event.upload_id,
        tenant=event.tenant,
        policy_set_id=policy_set.id,
        policy_set_version=policy_set.version,
        guard_name=guard_name,
        guard_version=guard_version,
        action=action,
        status=status,
        error=reason[:2000] if reason else None,
        results=tuple(results),
        latency=latency or Latency(),
        produced_at=now or dt.datetime.now(dt.UTC),
        guards_run=_guards_run(result, guard_name, guard_version),
    )


def _policy_result(policy: Policy, score: PolicyScore, guard_name: str) -> PolicyResult:
    """One policy's result: its (fused) probability against the policy's thresholds, each guard's part."""
    violated = score.probability >= policy.thresholds.review
    explanation = score.explanation[:MAX_EXPLANATION_CHARS] if violated and score.explanation else None
    if isinstance(score, FusedScore):
        parts, failed = tuple(GuardScore(guard=g, probability=p) for g, p in score.guard_scores), score.error
    else:
        parts, failed = (GuardScore(guard=guard_name, probability=score.probability),), None
    return PolicyResult(
        policy_id=policy.id,
        probability=score.probability,
        violated=violated,
        severity=policy.severity,
        explanation=explanation,
        evidence=score.evidence,
        guard_scores=parts,
        error=failed[:500] if failed else None,
    )


def _guards_run(result: GuardResult | None, guard_name: str, guard_version: str) -> tuple[GuardRun, ...]:
    if isinstance(result, PlanResult):
        return tuple(
            GuardRun(guard=c.guard, version=c.version or "unknown", stage=c.stage, policy_ids=c.policy_ids,
                     error=c.error[:500] if c.error else None, latency_ms=c.latency_ms)
            for c in result.guards_run
        )  # fmt: skip
    if result is None:
        return ()
    ids = tuple(s.policy_id for s in result.scores)
    return (GuardRun(guard=guard_name, version=guard_version, stage=0, policy_ids=ids, error=result.error),)
