"""Connect to the stack's Ray head (token auth) and deploy / look up the guard application on Ray Serve."""

from __future__ import annotations

import os
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


def apply_ray_auth_env(auth_env: dict[str, str]) -> None:
    """Set Ray's token-auth variables for this process and make an already-imported Ray observe them.

    Ray caches its auth mode and token at import; both caches are refreshed here (Ray's own
    `_enable_token_auth` does the same), so the order of imports does not matter.
    """
    if not auth_env:
        return
    os.environ.update(auth_env)
    from ray._raylet import AuthenticationTokenLoader, Config

    Config.initialize("")
    AuthenticationTokenLoader.instance().reset_cache()


def connect_ray(address: str, auth_env: dict[str, str]) -> None:
    import ray

    apply_ray_auth_env(auth_env)
    if not ray.is_initialized():
        ray.init(address=address, log_to_driver=False, logging_level="ERROR", namespace="guardstream")


def guard_app_args(settings: Settings, **overrides: Any) -> Any:
    from engines.serve.app import GuardAppArgs

    g = settings.guards
    fields: dict[str, Any] = {
        "guard": g.name,
        "max_batch_size": g.max_batch_size,
        "batch_wait_timeout_s": g.batch_wait_timeout_s,
        "policy_pack": g.policy_pack,
    }
    fields.update(overrides)
    return GuardAppArgs(**fields)


def deploy_guard_app(settings: Settings, **overrides: Any) -> Any:
    """Deploy (or update) the guard app on the connected Ray cluster; return its handle once healthy."""
    from ray import serve

    from engines.serve.app import build_app

    r = settings.ray
    serve.start(http_options={"host": r.serve_http_host, "port": r.serve_http_port or free_port()})
    return serve.run(build_app(guard_app_args(settings, **overrides)), name=r.app_name, route_prefix="/guard")


def guard_identity(handle: Any, timeout_s: float = 60.0) -> dict[str, Any]:
    """What the running app serves (guard name and version) — recorded on every verdict."""
    info: dict[str, Any] = handle.describe.remote().result(timeout_s=timeout_s)
    return info
