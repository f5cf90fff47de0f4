"""Turn a guard's per-policy scores into a Verdict: thresholds → action; any error → HOLD (fail closed)."""

from __future__ import annotations

import datetime as dt

from guardstream.engines.base import GuardResult
from guardstream.schemas.policy import EnforcementAction, Policy, PolicySet
from guardstream.schemas.upload import UploadEvent
from guardstream.schemas.verdict import MAX_EXPLANATION_CHARS, Action, Latency, PolicyResult, Verdict, VerdictStatus

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
    """Assemble the verdict. No result, an error result, or a result missing a policy → HOLD with status error."""
    reason: str | None = None
    if error is not None or result is None or not result.ok:
        reason = error or (result.error if result is not None else None) or "guard error (no message)"
    results: list[PolicyResult] = []
    if reason is None and result is not None:
        by_id = {s.policy_id: s for s in result.scores}
        missing = [p.id for p in policy_set.policies if p.id not in by_id]
        reason = f"guard returned no score for {missing}" if missing else None
        for policy in policy_set.policies:
            score = by_id.get(policy.id)
            if score is None:
                continue
            violated = score.probability >= policy.thresholds.review
            explanation = score.explanation[:MAX_EXPLANATION_CHARS] if violated and score.explanation else None
            results.append(
                PolicyResult(
                    policy_id=policy.id,
                    probability=score.probability,
                    violated=violated,
                    severity=policy.severity,
                    explanation=explanation,
                    evidence=score.evidence,
                )
            )
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
    )
