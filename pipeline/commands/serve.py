"""`guardstream serve [--json]`: deploy the guard app on the local stack's Ray head (stack started if needed).

The app keeps running after the command exits (Serve apps are detached); its HTTP ingress binds
settings.ray.serve_http_host (127.0.0.1 by default). Where it landed is written to <stack home>/serve.json,
which `guardstream guard-check` reads.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from guardstream.engines.serve.deploy import free_port
from guardstream.pipeline.cli import emit, fail
from guardstream.pipeline.settings import Settings
from guardstream.pipeline.stack import LocalStack, StackError

SERVE_STATE = "serve.json"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("serve", help="deploy the Ray Serve guard app on the local stack")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=run)


def serve_state_path(settings: Settings) -> Path:
    return settings.stack.home.resolve() / SERVE_STATE


def run(args: argparse.Namespace, settings: Settings) -> int:
    stack = LocalStack(settings)
    try:
        status = stack.status() if stack.status()["healthy"] else stack.up()
    except StackError as exc:
        return fail(str(exc), args.json)
    import ray

    from guardstream.engines.serve.app import deployment_name
    from guardstream.engines.serve.deploy import connect_ray, deploy_guard_app, guard_identity, http_root_url
    from guardstream.pipeline.stack import ray_endpoints

    connect_ray(*ray_endpoints(settings, stack))
    port = settings.ray.serve_http_port or _previous_port(settings) or free_port()
    route = settings.guards.http_route_prefix
    try:
        identity = guard_identity(deploy_guard_app(settings.guards, settings.ray, http_port=port))
        url = http_root_url() + route
    except Exception as exc:
        return fail(f"deploy failed: {type(exc).__name__}: {exc}", args.json)
    finally:
        ray.shutdown()
    state = {
        "app": settings.ray.app_name,
        "deployment": deployment_name(settings.guards.name),
        "guard": identity["guard"],
        "guard_version": identity["guard_version"],
        "url": url,
        "ray_dashboard": status["ray_dashboard"],
    }
    serve_state_path(settings).write_text(json.dumps(state, indent=2))
    emit(state, args.json)
    return 0


def _previous_port(settings: Settings) -> int | None:
    path = serve_state_path(settings)
    if not path.exists():
        return None
    url = json.loads(path.read_text()).get("url", "")
    try:
        return int(url.rsplit(":", 1)[1].split("/", 1)[0])
    except (IndexError, ValueError):
        return free_port()
