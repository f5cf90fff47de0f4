"""Connect to the Ray head (token auth) and deploy / look up the guard application on Ray Serve.

The one place that turns Settings into guard-app arguments; `guardstream serve`, the demo and the stream
job all go through it.
"""

from __future__ import annotations

from typing import Any

from pipeline.settings import Settings
from pipeline.stack import LocalStack, free_port


def ray_endpoints(settings: Settings, stack: LocalStack | None) -> tuple[str, dict[str, str]]:
    """Ray address and the auth environment: the settings' address, else the local stack's head."""
    if settings.ray.address:
        return settings.ray.address, {}
    if stack is None:
        raise ValueError("no Ray address: set GUARDSTREAM_RAY__ADDRESS or bring the local stack up")
    address = stack.status()["ray_address"]
    if address is None:
        raise ValueError("the local stack has no Ray head: run `guardstream stack up`")
    return address, stack.ray_env()


def connect_ray(address: str, auth_env: dict[str, str]) -> None:
    import ray

    from engines.serve.cluster import use_token_auth

    if auth_env.get("RAY_AUTH_TOKEN_PATH"):
        use_token_auth(auth_env["RAY_AUTH_TOKEN_PATH"])
    if not ray.is_initialized():
        ray.init(address=address, log_to_driver=False, logging_level="ERROR", namespace="guardstream")


def guard_app_args(settings: Settings, **overrides: Any) -> Any:
    from engines.serve.app import GuardAppArgs

    g = settings.guards
    fields: dict[str, Any] = {
        "guard": g.name,
        "guard_kwargs": {"checkpoint": str(g.checkpoint)} if g.checkpoint else {},
        "max_batch_size": g.max_batch_size,
        "batch_wait_timeout_s": g.batch_wait_timeout_s,
        "num_replicas": g.num_replicas,
        "num_cpus": g.replica_num_cpus,
        "policy_pack": g.policy_pack,
    }
    fields.update(overrides)
    return GuardAppArgs(**fields)


def deploy_guard_app(settings: Settings, http_port: int | None = None, **overrides: Any) -> Any:
    """Deploy (or update) the guard app on the connected Ray cluster; return its handle once healthy."""
    from engines.serve.app import run_app

    r = settings.ray
    return run_app(
        guard_app_args(settings, **overrides),
        app_name=r.app_name,
        route_prefix=settings.guards.http_route_prefix,
        http_host=r.serve_http_host,
        http_port=http_port or r.serve_http_port or free_port(),
    )


def guard_identity(handle: Any, timeout_s: float = 120.0) -> dict[str, Any]:
    """What the running app serves (guard name and version) — recorded on every verdict."""
    info: dict[str, Any] = handle.describe.remote().result(timeout_s=timeout_s)
    return info
