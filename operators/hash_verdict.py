"""The verdict a bank match decides, without any guard: per matched policy the bank's action, probability 1,
an explanation naming the bank, its version, the matched content id and the distance / overlap, and evidence
(the upload's matching timestamps and the HashMatch). The upload takes the most restrictive bank action."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from guardstream.engines.hashing.matcher import Match
from guardstream.schemas.policy import PolicyPack, PolicySet, Severity
from guardstream.schemas.upload import UploadEvent
from guardstream.schemas.verdict import Action, Evidence, HashMatch, Latency, PolicyResult, Verdict, VerdictStatus

HASH_GUARD_NAME = "hashmatch"
HASH_GUARD_VERSION = "pdq-vpdq-1"  # the hashing algorithms' version: bank versions are in each result
MAX_EVIDENCE_TIMESTAMPS = 32


def explain(match: Match) -> str:
    """One line for people: which bank, which version, which content, how close."""
    c = match.comparison
    head = f"Known content: bank {match.bank!r} v{match.bank_version}, content {match.content_id!r}"
    if c.query_match_pct is None:
        return f"{head}, PDQ distance {c.distance}."
    return (
        f"{head}, vPDQ: {c.query_match_pct:.1f}% of the upload's frames and {c.compared_match_pct:.1f}% of the"
        f" banked video's frames match (best frame distance {c.distance})."
    )


def _evidence(match: Match) -> Evidence:
    c = match.comparison
    hit = HashMatch(
        bank=match.bank, signal_type=match.signal_type, matched_id=match.content_id, distance=c.distance,
        bank_version=match.bank_version, query_match_pct=c.query_match_pct, compared_match_pct=c.compared_match_pct,
    )  # fmt: skip
    return Evidence(timestamps_s=tuple(sorted(c.timestamps_s))[:MAX_EVIDENCE_TIMESTAMPS], hash_match=hit)


def _severity(pack: PolicyPack, policy_set: PolicySet, policy_id: str) -> Severity:
    for candidate in (policy_set, *pack.policy_sets):
        for policy in candidate.policies:
            if policy.id == policy_id:
                return policy.severity
    return Severity.HIGH


def hash_verdict(
    event: UploadEvent, policy_set: PolicySet, pack: PolicyPack, matches: Sequence[Match], latency: Latency,
    now: dt.datetime | None = None,
) -> Verdict:  # fmt: skip
    """The verdict for an upload that matched at least one bank (best match per policy)."""
    best: dict[str, Match] = {}
    for match in matches:  # matches arrive best first
        best.setdefault(match.policy_id, match)
    results = tuple(
        PolicyResult(
            policy_id=m.policy_id,
            probability=1.0,
            violated=True,
            severity=_severity(pack, policy_set, m.policy_id),
            explanation=explain(m),
            evidence=_evidence(m),
        )
        for m in best.values()
    )
    action = max((Action(m.action) for m in best.values()), key=lambda a: a.rank)
    return Verdict(
        upload_id=event.upload_id, tenant=event.tenant, policy_set_id=policy_set.id,
        policy_set_version=policy_set.version, guard_name=HASH_GUARD_NAME, guard_version=HASH_GUARD_VERSION,
        action=action, status=VerdictStatus.OK, results=results, latency=latency,
        produced_at=now or dt.datetime.now(dt.UTC),
    )  # fmt: skip
