"""The plan app: deployment composition on Ray Serve. One `GuardDeployment` per member guard (each scaled and
batched on its own, `@serve.batch` sized from that guard's limits) and a `GuardRouter` ingress holding their
`DeploymentHandle`s, which runs the plan's cascade (engines/plan/cascade.py) over them. Reachable by handle
(`score(requests)` → PlanResults) and by HTTP (the same wire body as the single-guard app)."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import structlog
from ray import serve
from ray.serve import Application, Deployment
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from guardstream.engines.base import GuardRequest, GuardResult, registered_guards
from guardstream.engines.plan.cascade import Cascade
from guardstream.engines.plan.compile import CompiledPlan, compile_from_pack
from guardstream.engines.plan.result import PlanResult
from guardstream.engines.serve.app import GuardAppArgs, deployment_name, guard_deployment, guard_kwargs_for
from guardstream.engines.serve.client import score_by_handle
from guardstream.engines.serve.metrics import PlanMetrics
from guardstream.engines.serve.wire import WireError, WireLimits, decode_requests, encode_results
from guardstream.schemas.policy import load_policy_pack

log = structlog.get_logger(__name__)


def router_name(plan_id: str) -> str:
    return f"router_{plan_id}"


def compile_app_plan(args: GuardAppArgs) -> CompiledPlan:
    """The plan `args` names, compiled against the pack and the guard registry (errors name the field)."""
    assert args.plan is not None
    return compile_from_pack(
        load_policy_pack(args.policy_pack), args.plan, enable=args.enable, registered=registered_guards()
    )


def member_args(args: GuardAppArgs, guard: str, n_members: int) -> GuardAppArgs:
    """A member's single-guard args: its own overrides, else the app-wide values; CPUs default to an even share
    of `num_cpus`, so a plan fits where one guard did."""
    opts = args.members.get(guard)
    kwargs = opts.guard_kwargs if opts and opts.guard_kwargs is not None else guard_kwargs_for(args, guard)
    return args.model_copy(
        update={
            "plan": None, "enable": (), "members": {}, "guard": guard, "guard_kwargs": kwargs, "shared_kwargs": {},
            "num_replicas": (opts.num_replicas if opts else None) or args.num_replicas,
            "num_cpus": (opts.num_cpus if opts else None) or args.num_cpus / n_members,
            "max_batch_size": (opts.max_batch_size if opts else None) or args.max_batch_size,
        }
    )  # fmt: skip


def build_plan_app(args: GuardAppArgs) -> Application:
    plan = compile_app_plan(args)
    members = {g: guard_deployment(member_args(args, g, len(plan.guards))) for g in plan.guards}
    # @serve.deployment turns the class into a Deployment; mypy keeps a class decorator's input type.
    router = cast(Deployment, GuardRouter).options(
        name=router_name(plan.id), num_replicas=1, ray_actor_options={"num_cpus": args.router_num_cpus}
    )
    return router.bind(args, members)


@serve.deployment(health_check_period_s=10, health_check_timeout_s=30, max_ongoing_requests=256)
class GuardRouter:
    """Runs the plan's cascade over the member deployments; holds no model."""

    def __init__(self, args: GuardAppArgs, members: dict[str, Any]) -> None:
        self.args = args
        self.plan = compile_app_plan(args)
        self.members = members
        self.cascade: Cascade | None = None
        self._lock = asyncio.Lock()
        self.metrics = PlanMetrics(self.plan.id)
        self.wire_limits = WireLimits(max_body_bytes=args.max_body_bytes)

    async def _ready(self) -> Cascade:
        """The cascade, once every member has reported its resolved (post-load) version."""
        async with self._lock:
            if self.cascade is None:
                infos = await asyncio.gather(*(self.members[g].describe.remote() for g in self.plan.guards))
                versions = {g: str(i["guard_version"]) for g, i in zip(self.plan.guards, infos, strict=True)}
                self.cascade = Cascade(self.plan, versions)
            return self.cascade

    async def _call(self, guard: str, requests: list[GuardRequest]) -> list[GuardResult]:
        return await score_by_handle(self.members[guard], requests, self.args.member_timeout_s)

    async def score(self, requests: list[GuardRequest]) -> list[PlanResult]:
        """Handle path: one PlanResult per request, in order; a member's failure fails its policies closed."""
        cascade = await self._ready()
        results = await cascade.run_async(requests, self._call)
        self.metrics.record(self.plan, requests, results)
        return results

    async def describe(self) -> dict[str, Any]:
        """Plan id and version (what verdicts carry), and what each member serves."""
        cascade = await self._ready()
        infos = await asyncio.gather(*(self.members[g].describe.remote() for g in self.plan.guards))
        return {
            "guard": self.plan.guard_name,
            "guard_version": cascade.version,
            "plan": self.plan.id,
            "plan_content_version": self.plan.plan.version,
            "policy_set_version": self.plan.policy_set.version,
            "stages": [{"name": s.name, "run": s.run.value, "guards": [m.guard for m in s.members]}
                       for s in self.plan.stages],
            "members": dict(zip(self.plan.guards, infos, strict=True)),
        }  # fmt: skip

    async def check_health(self) -> None:
        """The router itself holds nothing that can break; each member has its own health check."""

    async def __call__(self, http_request: Request) -> Response:
        """HTTP path: POST a wire body; 400 with a reason for a malformed body, else JSON plan results."""
        declared = int(http_request.headers.get("content-length") or 0)
        if declared > self.wire_limits.max_body_bytes:
            return JSONResponse({"error": f"body of {declared} bytes > limit"}, status_code=413)
        try:
            requests = decode_requests(await http_request.body(), self.plan.policy_set.policy, self.wire_limits)
        except WireError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return Response(encode_results(await self.score(requests)), media_type="application/json")


__all__ = ["GuardRouter", "build_plan_app", "deployment_name", "router_name"]
