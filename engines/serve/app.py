"""The guard application: one Serve deployment per guard, batched with `@serve.batch`, reachable by handle
(`score(requests)`) and by HTTP (POST a wire body to the route prefix). Built from typed args by `build_app`,
which is what `serve deploy` configs and the KubeRay RayService point at (`engines.serve.app:build_app`).
"""

from __future__ import annotations

import asyncio
import inspect
import time
from pathlib import Path
from typing import Any, cast

import structlog
from pydantic import BaseModel, ConfigDict, Field
from ray import serve
from ray.serve import Application, Deployment
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from guardstream.engines.base import GuardRequest, GuardResult, create_guard, guard_class, score_fail_closed
from guardstream.engines.serve.metrics import GuardMetrics
from guardstream.engines.serve.settings import MemberSettings
from guardstream.engines.serve.wire import WireError, WireLimits, decode_requests, encode_results
from guardstream.schemas.policy import DEFAULT_PACK, load_policy_pack

log = structlog.get_logger(__name__)


class GuardAppArgs(BaseModel):
    """Typed arguments of the guard app (the `args:` block of a Serve config). With `plan` set, the app is the
    plan's composition (a router deployment over one deployment per member guard); without, one guard."""

    model_config = ConfigDict(extra="forbid")

    plan: str | None = Field(default=None, description="Plan id in the policy pack; None: the single `guard`.")
    enable: tuple[str, ...] = Field(default=(), description="Plan members to switch on that the pack leaves off.")
    members: dict[str, MemberSettings] = Field(default_factory=dict, description="Per-member overrides.")
    router_num_cpus: float = Field(default=0.0, ge=0, description="CPUs of the router (it only awaits members).")
    member_timeout_s: float = Field(default=60.0, gt=0, description="Router → member call timeout.")

    guard: str = "text"
    guard_kwargs: dict[str, Any] = Field(default_factory=dict)
    shared_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="Passed to every guard whose constructor takes them (e.g. models_dir)."
    )
    max_batch_size: int = Field(default=8, ge=1)
    batch_wait_timeout_s: float = Field(default=0.01, ge=0)
    num_replicas: int = Field(default=1, ge=1)
    num_cpus: float = Field(default=1.0, gt=0)
    policy_pack: Path = DEFAULT_PACK
    policy_set: str = "default"
    max_body_bytes: int = Field(default=256 * 1024 * 1024, ge=1024)
    thresholds: dict[str, float] = Field(default_factory=dict, description="Review-threshold overrides.")

    def user_config(self) -> dict[str, Any]:
        """The live-reconfigurable part: changing only these redeploys without restarting replicas."""
        return {
            "max_batch_size": self.max_batch_size,
            "batch_wait_timeout_s": self.batch_wait_timeout_s,
            "thresholds": dict(self.thresholds),
        }

    def static(self) -> GuardAppArgs:
        """The constructor part (user-config fields reset to defaults)."""
        return self.model_copy(update={"max_batch_size": 8, "batch_wait_timeout_s": 0.01, "thresholds": {}})


@serve.deployment(health_check_period_s=10, health_check_timeout_s=30, max_ongoing_requests=64)
class GuardDeployment:
    """Thin glue around one guard: batching, reconfigure, health, metrics, HTTP decoding."""

    def __init__(self, args: GuardAppArgs) -> None:
        self.args = args
        self.guard = create_guard(args.guard, **args.guard_kwargs)
        self.guard.load()
        self.guard.warmup()
        self.policy_set = load_policy_pack(args.policy_pack).policy_set(args.policy_set)
        self.thresholds: dict[str, float] = {}
        self.metrics = GuardMetrics(args.guard)
        self.wire_limits = WireLimits(max_body_bytes=args.max_body_bytes)
        self._apply_batching(args.max_batch_size, args.batch_wait_timeout_s)

    def _apply_batching(self, max_batch_size: int, batch_wait_timeout_s: float) -> None:
        size = max(1, min(max_batch_size, self.guard.batch_limits().max_batch_size))
        # @serve.batch adds these setters at run time; its annotation keeps the undecorated method's type.
        self._score_batched.set_max_batch_size(size)  # type: ignore[attr-defined]
        self._score_batched.set_batch_wait_timeout_s(batch_wait_timeout_s)  # type: ignore[attr-defined]
        self.max_batch_size = size

    def reconfigure(self, config: dict[str, Any]) -> None:
        """user_config: {max_batch_size, batch_wait_timeout_s, thresholds: {policy_id: review threshold}}."""
        self._apply_batching(
            int(config.get("max_batch_size", self.args.max_batch_size)),
            float(config.get("batch_wait_timeout_s", self.args.batch_wait_timeout_s)),
        )
        thresholds = {str(k): float(v) for k, v in (config.get("thresholds") or {}).items()}
        if any(not 0.0 <= v <= 1.0 for v in thresholds.values()):
            raise ValueError("thresholds must lie in [0, 1]")
        self.thresholds = thresholds

    def check_health(self) -> None:
        self.guard.check_health()

    def describe(self) -> dict[str, Any]:
        """What this replica serves: guard name/version, batch size, threshold overrides, policy-set version."""
        return {
            "guard": self.guard.name,
            "guard_version": self.guard.version,
            "max_batch_size": self.max_batch_size,
            "thresholds": dict(self.thresholds),
            "policy_set_version": self.policy_set.version,
            "replica_id": serve.get_replica_context().replica_id.unique_id,
        }

    async def score(self, requests: list[GuardRequest]) -> list[GuardResult]:
        """Handle path: score requests (each joins the shared batch queue); one result per request, in order."""
        results = list(await asyncio.gather(*(self._score_batched(r) for r in requests)))
        self.metrics.record_results("handle", [r.policies for r in requests], results, self.thresholds)
        return results

    @serve.batch(max_batch_size=8, batch_wait_timeout_s=0.01)
    async def _score_batched(self, requests: list[GuardRequest]) -> list[GuardResult]:
        start = time.perf_counter()
        results = await asyncio.to_thread(score_fail_closed, self.guard, requests)
        self.metrics.record_batch(len(requests), (time.perf_counter() - start) * 1e3)
        return results

    async def __call__(self, http_request: Request) -> Response:
        """HTTP path: POST a wire body; 400 with a reason for a malformed body, else JSON results."""
        declared = int(http_request.headers.get("content-length") or 0)
        if declared > self.wire_limits.max_body_bytes:
            self.metrics.record_refused("http")
            return JSONResponse({"error": f"body of {declared} bytes > limit"}, status_code=413)
        try:
            requests = decode_requests(await http_request.body(), self.policy_set.policy, self.wire_limits)
        except WireError as exc:
            self.metrics.record_refused("http")
            return JSONResponse({"error": str(exc)}, status_code=400)
        results = list(await asyncio.gather(*(self._score_batched(r) for r in requests)))
        self.metrics.record_results("http", [r.policies for r in requests], results, self.thresholds)
        return Response(encode_results(results), media_type="application/json")


def deployment_name(guard: str) -> str:
    return f"guard_{guard}"


def build_app(args: GuardAppArgs) -> Application:
    """The guard application for `args.guard` (or the composition of `args.plan`), sized from `args`."""
    if isinstance(args, dict):  # Ray passes a dict when the builder is called by import path without typing
        args = GuardAppArgs.model_validate(args)
    if args.plan is not None:
        from guardstream.engines.serve.router import build_plan_app

        return build_plan_app(args)
    return guard_deployment(args.model_copy(update={"guard_kwargs": guard_kwargs_for(args, args.guard),
                                                    "shared_kwargs": {}}))  # fmt: skip


def guard_kwargs_for(args: GuardAppArgs, guard: str) -> dict[str, Any]:
    """What each member's constructor takes of the app-wide kwargs: `shared_kwargs` (e.g. the models folder) and a
    `checkpoint` (how `guards.checkpoint` reaches the explaining VLM) go to every member that accepts them;
    the rest of `guard_kwargs` only to `guards.name`'s guard."""
    params = inspect.signature(guard_class(guard).__init__).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    offered = args.shared_kwargs | {
        k: v for k, v in args.guard_kwargs.items() if guard == args.guard or k == "checkpoint"
    }
    return {k: v for k, v in offered.items() if k in params or (takes_any and k not in args.shared_kwargs)}


def guard_deployment(args: GuardAppArgs) -> Application:
    """One guard's deployment, bound (a whole app alone, or a member of a plan app)."""
    # @serve.deployment turns the class into a Deployment; mypy keeps a class decorator's input type.
    deployment = cast(Deployment, GuardDeployment).options(
        name=deployment_name(args.guard),
        num_replicas=args.num_replicas,
        ray_actor_options={"num_cpus": args.num_cpus},
        user_config=args.user_config(),
    )
    return deployment.bind(args.static())


def run_app(
    args: GuardAppArgs, *, app_name: str, route_prefix: str, http_host: str = "127.0.0.1", http_port: int = 8000
) -> Any:
    """Deploy (or update) the app on the connected Ray cluster; HTTP binds `http_host` (loopback by default).

    Returns the app's DeploymentHandle. `http_host`/`http_port` apply when Serve is not running yet.
    """
    serve.start(http_options={"host": http_host, "port": http_port})
    return serve.run(build_app(args), name=app_name, route_prefix=route_prefix)
