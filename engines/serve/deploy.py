"""Connect to a Ray cluster and deploy / describe the guard application on Ray Serve: the one place that turns
the guard and Ray settings sections into guard-app arguments. `guardstream serve`, the demo, the stream job and
the Beam inference client all go through it."""

from __future__ import annotations

import logging
import socket
from typing import Any

from guardstream.engines.serve.settings import GuardSettings, RaySettings


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on `host` right now (loopback by default)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def connect_ray(address: str, auth_env: dict[str, str]) -> None:
    """Join the Ray cluster at `address` as a driver, with token auth when `auth_env` names a token file."""
    import ray

    from guardstream.engines.serve.cluster import LOOPBACK_NODE_ENV, use_loopback_node, use_token_auth

    if auth_env.get("RAY_AUTH_TOKEN_PATH"):
        use_token_auth(auth_env["RAY_AUTH_TOKEN_PATH"])
    if auth_env.get(LOOPBACK_NODE_ENV) == "0":
        use_loopback_node()
    if not ray.is_initialized():
        ray.init(address=address, log_to_driver=False, logging_level=logging.ERROR, namespace="guardstream")


def guard_app_args(guards: GuardSettings, **overrides: Any) -> Any:
    """The guard app's typed build arguments from the guard settings section (overrides win)."""
    from guardstream.engines.serve.app import GuardAppArgs

    fields: dict[str, Any] = {
        "plan": guards.plan or None,
        "enable": guards.enable,
        "members": dict(guards.members),
        "guard": guards.name,
        "guard_kwargs": {"checkpoint": str(guards.checkpoint)} if guards.checkpoint else {},
        "shared_kwargs": {"models_dir": str(guards.models_dir.resolve())},  # replicas do not share our cwd
        "max_batch_size": guards.max_batch_size,
        "batch_wait_timeout_s": guards.batch_wait_timeout_s,
        "num_replicas": guards.num_replicas,
        "num_cpus": guards.replica_num_cpus,
        "policy_pack": guards.policy_pack,
    }
    fields.update(overrides)
    return GuardAppArgs(**fields)


def deploy_guard_app(guards: GuardSettings, ray: RaySettings, http_port: int | None = None, **overrides: Any) -> Any:
    """Deploy (or update) the guard app on the connected Ray cluster; return its handle once healthy."""
    from guardstream.engines.serve.app import run_app

    return run_app(
        guard_app_args(guards, **overrides),
        app_name=ray.app_name,
        route_prefix=guards.http_route_prefix,
        http_host=ray.serve_http_host,
        http_port=http_port or ray.serve_http_port or free_port(),
    )


def guard_identity(handle: Any, timeout_s: float = 120.0) -> dict[str, Any]:
    """What the running app serves (guard name and resolved version) — recorded on every verdict."""
    info: dict[str, Any] = handle.describe.remote().result(timeout_s=timeout_s)
    return info


def http_root_url() -> str:
    """The running Serve HTTP proxy's root URL. Serve keeps the HTTP options it first started with (a later
    `serve.start` with another port is ignored), so callers record this, never the port they asked for."""
    from ray.serve.context import _get_global_client

    client = _get_global_client()  # raises when no controller runs (None only when told not to raise)
    assert client is not None
    return str(client.root_url).rstrip("/")


def reference_guard(guards: GuardSettings) -> Any:
    """What the Serve app runs, in this process and not loaded: the plan (a PlanGuard over the same members and
    kwargs) or the single guard. The in-process reference of tests and benchmarks; verdicts built from it carry
    the same guard name and version as the app's."""
    from guardstream.engines.base import create_guard
    from guardstream.engines.plan.local import PlanGuard
    from guardstream.engines.serve.app import guard_kwargs_for
    from guardstream.engines.serve.router import compile_app_plan, member_args

    args = guard_app_args(guards)
    if args.plan is None:
        return create_guard(args.guard, **guard_kwargs_for(args, args.guard))
    plan = compile_app_plan(args)
    members = {g: member_args(args, g, len(plan.guards)) for g in plan.guards}
    return PlanGuard(plan, {g: create_guard(g, **m.guard_kwargs) for g, m in members.items()})
