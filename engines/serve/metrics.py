"""Custom guard metrics through `ray.serve.metrics` (exported by Ray's metrics agent to Prometheus with a
`ray_` prefix, e.g. `ray_guardstream_guard_requests_total`). Serve adds deployment / replica / app tags."""

from __future__ import annotations

from collections.abc import Sequence

from guardstream.engines.base import GuardRequest, GuardResult
from guardstream.engines.plan.compile import CompiledPlan
from guardstream.engines.plan.result import FusedScore, PlanResult
from guardstream.schemas.policy import Policy

LATENCY_BOUNDARIES_MS: list[float] = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000]
BATCH_BOUNDARIES: list[float] = [1, 2, 4, 8, 16, 32, 64]
# Ray annotates `tag_keys` as `Tuple[str]` (exactly one key) yet takes any number: hence the arg-type ignores below.


class GuardMetrics:
    """Requests, batch size, latency, per-policy flags and errors for one guard deployment."""

    def __init__(self, guard_name: str) -> None:
        from ray.serve.metrics import Counter, Histogram

        self.guard_name = guard_name
        self.requests = Counter(
            "guardstream_guard_requests",
            description="Guard requests scored.",
            tag_keys=("guard", "route"),  # type: ignore[arg-type]
        )
        self.batch_size = Histogram(
            "guardstream_guard_batch_size", description="Requests per guard batch.", boundaries=BATCH_BOUNDARIES,
            tag_keys=("guard",),
        )  # fmt: skip
        self.latency_ms = Histogram(
            "guardstream_guard_latency_ms", description="Guard batch latency (ms).",
            boundaries=LATENCY_BOUNDARIES_MS, tag_keys=("guard",),
        )  # fmt: skip
        self.flags = Counter(
            "guardstream_guard_policy_flags", description="Policy scores at or above the review threshold.",
            tag_keys=("guard", "policy"),  # type: ignore[arg-type]
        )  # fmt: skip
        self.errors = Counter(
            "guardstream_guard_errors", description="Requests answered with an error (fail closed).",
            tag_keys=("guard", "kind"),  # type: ignore[arg-type]
        )  # fmt: skip

    def record_batch(self, size: int, latency_ms: float) -> None:
        tags = {"guard": self.guard_name}
        self.batch_size.observe(size, tags=tags)
        self.latency_ms.observe(latency_ms, tags=tags)

    def record_results(
        self,
        route: str,
        policies: Sequence[Sequence[Policy]],
        results: Sequence[GuardResult],
        thresholds: dict[str, float],
    ) -> None:
        self.requests.inc(len(results), tags={"guard": self.guard_name, "route": route})
        for asked, result in zip(policies, results, strict=True):
            if not result.ok:
                kind = "invalid" if (result.error or "").startswith("invalid request") else "guard"
                self.errors.inc(tags={"guard": self.guard_name, "kind": kind})
                continue
            review = {p.id: thresholds.get(p.id, p.thresholds.review) for p in asked}
            for score in result.scores:
                if score.probability >= review[score.policy_id]:
                    self.flags.inc(tags={"guard": self.guard_name, "policy": score.policy_id})

    def record_refused(self, route: str) -> None:
        self.errors.inc(tags={"guard": self.guard_name, "kind": "wire"})
        self.requests.inc(tags={"guard": self.guard_name, "route": route})


class PlanMetrics:
    """Per-plan facts the member deployments cannot see: uploads sent to each guard per stage, policies escalated
    to later stages, fused flags per policy, and policies failed closed per (policy, guard)."""

    def __init__(self, plan_id: str) -> None:
        from ray.serve.metrics import Counter, Histogram

        self.plan_id = plan_id
        self.requests = Counter("guardstream_plan_requests", description="Uploads scored.", tag_keys=("plan",))
        self.guard_calls = Counter(
            "guardstream_plan_guard_calls", description="Uploads a member guard scored, per stage.",
            tag_keys=("plan", "guard", "stage"),  # type: ignore[arg-type]
        )  # fmt: skip
        self.escalations = Counter(
            "guardstream_plan_escalations", description="Policies sent to a later (escalated) stage.",
            tag_keys=("plan", "policy"),  # type: ignore[arg-type]
        )  # fmt: skip
        self.flags = Counter(
            "guardstream_plan_policy_flags", description="Fused policy scores at or above the review threshold.",
            tag_keys=("plan", "policy"),  # type: ignore[arg-type]
        )  # fmt: skip
        self.errors = Counter(
            "guardstream_plan_policy_errors", description="Policies failed closed because a member guard failed.",
            tag_keys=("plan", "policy", "guard"),  # type: ignore[arg-type]
        )  # fmt: skip
        self.latency_ms = Histogram(
            "guardstream_plan_latency_ms", description="Cascade latency per call (ms).",
            boundaries=LATENCY_BOUNDARIES_MS, tag_keys=("plan",),
        )  # fmt: skip

    def record(self, plan: CompiledPlan, requests: Sequence[GuardRequest], results: Sequence[PlanResult]) -> None:
        tags = {"plan": self.plan_id}
        self.requests.inc(len(results), tags=tags)
        later = {m.guard for s in plan.stages[1:] for m in s.members}
        for request, result in zip(requests, results, strict=True):
            self.latency_ms.observe(float(result.timings_ms.get("total_ms", 0.0)), tags=tags)
            for call in result.guards_run:
                self.guard_calls.inc(tags={**tags, "guard": call.guard, "stage": str(call.stage)})
                for policy_id in call.policy_ids if call.guard in later else ():
                    self.escalations.inc(tags={**tags, "policy": policy_id})
            review = {p.id: p.thresholds.review for p in request.policies}
            for score in result.scores:
                if isinstance(score, FusedScore) and score.error:
                    self.errors.inc(tags={**tags, "policy": score.policy_id, "guard": score.failed_guard or "none"})
                elif score.probability >= review.get(score.policy_id, 1.0):
                    self.flags.inc(tags={**tags, "policy": score.policy_id})
