"""`guardstream stream`: run the streaming job against the configured Kafka / Ray / lake until stopped.

Without GUARDSTREAM_KAFKA__BOOTSTRAP_SERVERS / GUARDSTREAM_RAY__ADDRESS it uses the local stack (started if
needed). Stop it with SIGTERM / Ctrl-C or by creating the stop file: the job stops cooperatively, finishing
the bundles in flight, so every upload it read ends committed or is re-read on restart.
"""

from __future__ import annotations

import argparse
import signal
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from guardstream.pipeline.cli import emit
from guardstream.pipeline.settings import Settings

if TYPE_CHECKING:
    from guardstream.pipeline.streaming import StreamEndpoints


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("stream", help="run the streaming moderation job until stopped")
    parser.add_argument(
        "--stop-file", type=Path, default=None, help="create this file to stop (default: in stack home)"
    )
    parser.add_argument("--no-deploy", action="store_true", help="use the guard app already running on Ray Serve")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(handler=run)


def endpoints_for(settings: Settings, deploy: bool) -> tuple[StreamEndpoints, str]:
    """Resolve Kafka / Ray / lake endpoints and the serving guard's version (deploying the app if asked)."""
    endpoints, identity = served(settings, deploy)
    return endpoints, str(identity["guard_version"])


def served(settings: Settings, deploy: bool) -> tuple[StreamEndpoints, dict[str, Any]]:
    """Endpoints and what the running app serves — guard (or plan) name and version — deploying it if asked."""
    from ray import serve

    from guardstream.engines.serve.deploy import connect_ray, deploy_guard_app, guard_identity
    from guardstream.pipeline.stack import LocalStack, ray_endpoints
    from guardstream.pipeline.streaming import StreamEndpoints

    external = settings.kafka.bootstrap_servers and settings.ray.address and settings.lake.catalog_uri
    stack = None if external else LocalStack(settings)
    if stack is not None:
        stack.up()
    address, auth_env = ray_endpoints(settings, stack)
    connect_ray(address, auth_env)
    handle = deploy_guard_app(settings.guards, settings.ray) if deploy else serve.get_app_handle(settings.ray.app_name)
    return StreamEndpoints.resolve(settings, stack, address, auth_env), guard_identity(handle)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from guardstream.pipeline.streaming import StreamJob

    stop_file = args.stop_file or settings.stack.home.resolve() / "stream.stop"
    stop_file.unlink(missing_ok=True)  # a stop file left by an earlier run is stale
    endpoints, identity = served(settings, deploy=not args.no_deploy)
    job = StreamJob.create(settings, endpoints, str(identity["guard_version"]), stop_file, str(identity["guard"]))

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop_file.touch()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    emit({"event": "streaming", "stop_file": str(stop_file), "guard_version": job.guard_version}, args.json)
    job.run()
    emit({"event": "stopped"}, args.json)
    return 0
