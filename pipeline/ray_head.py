"""The local Ray head: token auth, every port chosen by the stack and bound to 127.0.0.1.

Ray picks random ports (and for some servers all interfaces) for what it is not told about, so every
listener it has a flag for is pinned: GCS, dashboard, dashboard agent (HTTP and gRPC), metrics export,
runtime-env agent, Ray client server, raylet, object manager and the worker port range.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import sys
from pathlib import Path

from guardstream.engines.serve.cluster import LOOPBACK_NODE_ENV
from guardstream.engines.serve.settings import RaySettings

WORKER_PORTS = 24  # workers of one small node (guard replicas, Serve controller / proxy, job drivers)


class RayHead:
    PORT_NAMES = (
        "gcs", "dashboard", "dashboard_agent", "dashboard_agent_grpc", "metrics_export", "runtime_env_agent",
        "client_server", "node_manager", "object_manager", "min_worker",
    )  # fmt: skip
    PROBED = ("gcs", "dashboard")  # their answer means the head is up (the others open lazily or per worker)

    def __init__(self, home: Path, settings: RaySettings) -> None:
        self.home = home
        self.settings = settings

    @property
    def token_path(self) -> Path:
        return self.home / "ray_auth_token"

    @property
    def temp_dir(self) -> Path:
        # Ray's unix sockets must stay under ~107 characters, so its temp dir is short and per-home.
        digest = hashlib.sha1(str(self.home).encode()).hexdigest()[:10]
        return Path("/tmp") / f"gs-ray-{digest}"

    def client_env(self) -> dict[str, str]:
        """Environment a Ray client needs to talk to this head (token auth)."""
        return {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(self.token_path), LOOPBACK_NODE_ENV: "0"}

    def head_env(self) -> dict[str, str]:
        """Environment of `ray start`: token auth, and the node IP kept at 127.0.0.1. Ray replaces a loopback
        `--node-ip-address` by the host's address unless "cluster mode" is off; with it off, GCS and raylet
        bind 127.0.0.1 and the agents bind the node IP (loopback) too. Drivers need the same setting
        (`connect_ray` applies it from `client_env`)."""
        return self.client_env()

    def ensure_token(self) -> None:
        if not self.token_path.exists():
            fd = os.open(self.token_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)  # never world-readable
            with os.fdopen(fd, "w") as token:
                token.write(secrets.token_hex(32))

    def argv(self, ports: dict[str, int]) -> list[str]:
        self.ensure_token()
        r = self.settings
        ray_bin = str(Path(sys.executable).parent / "ray")
        low = ports["min_worker"]
        argv = [ray_bin, "start", "--head", "--block", "--node-ip-address=127.0.0.1", f"--port={ports['gcs']}"]
        argv += ["--dashboard-host=127.0.0.1", f"--dashboard-port={ports['dashboard']}", "--include-dashboard=true"]
        argv += [f"--dashboard-agent-listen-port={ports['dashboard_agent']}"]
        argv += [f"--dashboard-agent-grpc-port={ports['dashboard_agent_grpc']}"]
        argv += [f"--metrics-export-port={ports['metrics_export']}"]
        argv += [f"--runtime-env-agent-port={ports['runtime_env_agent']}"]
        argv += [f"--ray-client-server-port={ports['client_server']}"]
        argv += [f"--node-manager-port={ports['node_manager']}", f"--object-manager-port={ports['object_manager']}"]
        argv += [f"--min-worker-port={low}", f"--max-worker-port={low + WORKER_PORTS - 1}"]
        argv += [f"--temp-dir={self.temp_dir}", "--disable-usage-stats"]
        argv += [f"--object-store-memory={r.object_store_memory_mb * 1024 * 1024}"]
        if r.num_cpus is not None:
            argv.append(f"--num-cpus={r.num_cpus}")
        return argv
