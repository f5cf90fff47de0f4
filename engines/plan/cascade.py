"""The cascade as plain functions: which guard scores which policies of each upload at each stage, how answers are
absorbed (a failing guard fails closed for its own policies only), and the fused result. No Ray, no threads: the
in-process plan guard and the Serve router both drive `Cascade` with their own way of calling a guard."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from guardstream.engines.base import GuardRequest, GuardResult, PolicyScore
from guardstream.engines.plan.compile import CompiledPlan, Stage
from guardstream.engines.plan.fusion import fuse
from guardstream.engines.plan.result import FusedScore, GuardCall, PlanResult
from guardstream.schemas.plan import Merge, StageRun
from guardstream.schemas.policy import Policy
from guardstream.schemas.verdict import Evidence

CallGuard = Callable[[str, list[GuardRequest]], list[GuardResult]]
CallGuardAsync = Callable[[str, list[GuardRequest]], Awaitable[list[GuardResult]]]


@dataclass
class UploadState:
    """What the cascade knows about one upload so far."""

    request: GuardRequest
    scores: dict[str, dict[str, PolicyScore]] = field(default_factory=dict)  # policy → guard → score, run order
    counted: dict[str, list[str]] = field(default_factory=dict)  # policy → guards whose scores are fused
    counted_stage: dict[str, int] = field(default_factory=dict)  # policy → stage that last reset `counted`
    errors: dict[str, tuple[str, str]] = field(default_factory=dict)  # policy → (guard, why) it fails closed
    calls: list[GuardCall] = field(default_factory=list)


def current_score(plan: CompiledPlan, state: UploadState, policy_id: str) -> float:
    """The policy's fused score from the guards counted so far (0.0 when none)."""
    guards = state.scores.get(policy_id, {})
    return fuse(plan.fusion_for(policy_id), {g: guards[g].probability for g in state.counted.get(policy_id, [])})


def escalates(plan: CompiledPlan, state: UploadState, policy: Policy, unsure_band: float) -> bool:
    """An escalated stage scores a policy when the fused score so far, or any single guard's score, is at or above
    review − unsure_band: a cheap guard flagged it or is unsure. A policy that already failed closed is not sent."""
    scored = state.scores.get(policy.id, {})
    if policy.id in state.errors or not scored:
        return False
    floor = policy.thresholds.review - unsure_band
    return current_score(plan, state, policy.id) >= floor or max(s.probability for s in scored.values()) >= floor


def stage_requests(plan: CompiledPlan, stage: Stage, state: UploadState) -> dict[str, GuardRequest]:
    """Guard → the upload's request narrowed to the policies that guard scores at this stage (absent: not called)."""
    out: dict[str, GuardRequest] = {}
    for member in stage.members:
        wanted = tuple(p for p in state.request.policies if p.id in member.policy_ids)
        if stage.run is StageRun.ESCALATED:
            wanted = tuple(p for p in wanted if escalates(plan, state, p, stage.unsure_band))
        if wanted:
            out[member.guard] = replace(state.request, policies=wanted)
    return out


def absorb(
    stage: Stage, state: UploadState, guard: str, request: GuardRequest, result: GuardResult, call: GuardCall
) -> None:
    """Record one guard's answer. An error result, or a score missing, fails closed for exactly the policies that
    guard was asked (the first failure per policy is the one reported)."""
    state.calls.append(call)
    asked = [p.id for p in request.policies]
    by_id = {s.policy_id: s for s in result.scores} if result.ok else {}
    for policy_id in asked:
        score = by_id.get(policy_id)
        if score is None:
            reason = f"guard {guard} failed: {result.error}" if not result.ok else f"guard {guard} gave no score"
            state.errors.setdefault(policy_id, (guard, reason[:500]))
            continue
        state.scores.setdefault(policy_id, {})[guard] = score
        counted = state.counted.setdefault(policy_id, [])
        if stage.merge is Merge.OVERRIDE and state.counted_stage.get(policy_id, -1) < stage.index:
            counted.clear()
            state.counted_stage[policy_id] = stage.index
        counted.append(guard)


def finish(plan: CompiledPlan, state: UploadState, plan_version: str, total_ms: float) -> PlanResult:
    """The upload's PlanResult: one FusedScore per requested policy, in request order."""
    scores = tuple(_fused(plan, state, p.id) for p in state.request.policies)
    failed = [s for s in scores if s.error]
    error = None
    if failed and len(failed) == len(scores) and not any(s.guard_scores for s in scores):
        error = "; ".join(sorted({s.error or "" for s in failed}))[:2000]
    return PlanResult(
        state.request.request_id,
        () if error else scores,
        error,
        {"total_ms": total_ms},
        plan_id=plan.id,
        plan_version=plan_version,
        guards_run=tuple(state.calls),
    )


def _fused(plan: CompiledPlan, state: UploadState, policy_id: str) -> FusedScore:
    scored = state.scores.get(policy_id, {})
    counted = [scored[g] for g in state.counted.get(policy_id, [])]
    probability = current_score(plan, state, policy_id)
    by_p = sorted(counted, key=lambda s: -s.probability)
    explained = next((s for s in by_p if s.explanation), None)
    evidenced = next((s for s in by_p if s.evidence.timestamps_s or s.evidence.ocr_span or s.evidence.hash_match), None)
    failed_guard, error = state.errors.get(policy_id, (None, None))
    if error is None and not counted:
        error = "no guard of the plan scored this policy"
    return FusedScore(
        policy_id,
        probability,
        explained.explanation if explained else None,
        evidenced.evidence if evidenced else Evidence(),
        _parts(scored),
        error,
        failed_guard,
    )


def _parts(scored: Mapping[str, PolicyScore]) -> tuple[tuple[str, float], ...]:
    """Each guard's score in run order, followed by that guard's own parts when it fuses experts itself (the
    visual guard's `visual.<model>` scores), so the verdict shows every expert behind the fused score."""
    parts: list[tuple[str, float]] = []
    for guard, score in scored.items():
        parts.append((guard, score.probability))
        if isinstance(score, FusedScore):
            parts.extend((name, p) for name, p in score.guard_scores if name != guard)
    return tuple(parts)


class Cascade:
    """Runs a compiled plan over a batch of uploads, stage by stage; each guard is called once per stage with the
    requests it has to score (so each guard batches on its own)."""

    def __init__(self, plan: CompiledPlan, guard_versions: Mapping[str, str]) -> None:
        self.plan = plan
        self.guard_versions = dict(guard_versions)
        self.version = plan.version(guard_versions)

    def _batches(self, stage: Stage, states: Sequence[UploadState]) -> dict[str, list[tuple[int, GuardRequest]]]:
        batches: dict[str, list[tuple[int, GuardRequest]]] = {}
        for i, state in enumerate(states):
            for guard, request in stage_requests(self.plan, stage, state).items():
                batches.setdefault(guard, []).append((i, request))
        return batches

    def _absorb(
        self, stage: Stage, states: Sequence[UploadState], guard: str, items: list[tuple[int, GuardRequest]],
        results: Sequence[GuardResult], latency_ms: float,
    ) -> None:  # fmt: skip
        requests = [r for _, r in items]
        if [r.request_id for r in results] != [r.request_id for r in requests]:
            results = [GuardResult(r.request_id, error="answered out of order or incomplete") for r in requests]
        for (i, request), result in zip(items, results, strict=True):
            call = GuardCall(guard, self.guard_versions[guard], stage.index, tuple(p.id for p in request.policies),
                             result.error, latency_ms)  # fmt: skip
            absorb(stage, states[i], guard, request, result, call)

    def run(self, requests: Sequence[GuardRequest], call: CallGuard) -> list[PlanResult]:
        """Blocking driver: `call(guard, requests)` must return one result per request, in order."""
        started, states = time.perf_counter(), [UploadState(r) for r in requests]
        for stage in self.plan.stages:
            for guard, items in self._batches(stage, states).items():
                t0 = time.perf_counter()
                results = _safe_call(call, guard, [r for _, r in items])
                self._absorb(stage, states, guard, items, results, (time.perf_counter() - t0) * 1e3)
        total_ms = (time.perf_counter() - started) * 1e3
        return [finish(self.plan, s, self.version, total_ms) for s in states]

    async def run_async(self, requests: Sequence[GuardRequest], call: CallGuardAsync) -> list[PlanResult]:
        """Async driver (the Serve router): the guards of one stage are called concurrently."""
        import asyncio

        started, states = time.perf_counter(), [UploadState(r) for r in requests]
        for stage in self.plan.stages:
            batches = self._batches(stage, states)

            async def one(guard: str, items: list[tuple[int, GuardRequest]]) -> tuple[list[GuardResult], float]:
                t0 = time.perf_counter()
                try:
                    results = list(await call(guard, [r for _, r in items]))
                except Exception as exc:  # fail closed for this guard's policies only
                    results = [GuardResult(r.request_id, error=f"{type(exc).__name__}: {exc}"[:300]) for _, r in items]
                return results, (time.perf_counter() - t0) * 1e3

            answers = await asyncio.gather(*(one(g, items) for g, items in batches.items()))
            for (guard, items), (results, ms) in zip(batches.items(), answers, strict=True):
                self._absorb(stage, states, guard, items, results, ms)
        total_ms = (time.perf_counter() - started) * 1e3
        return [finish(self.plan, s, self.version, total_ms) for s in states]


def _safe_call(call: CallGuard, guard: str, requests: list[GuardRequest]) -> list[GuardResult]:
    try:
        return list(call(guard, requests))
    except Exception as exc:  # fail closed for this guard's policies only
        return [GuardResult(r.request_id, error=f"{type(exc).__name__}: {exc}"[:300]) for r in requests]
