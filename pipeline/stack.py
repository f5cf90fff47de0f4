"""The local stack: SeaweedFS (S3 object store), tansu (Kafka API) on that store, a Ray head with token auth,
and the Iceberg SQL catalog with its warehouse in the store.

`up` is idempotent: healthy components are left alone, dead ones are restarted on the ports they had, so
clients that hold an address (the streaming job, the broker's S3 endpoint) reconnect to the same place.
Processes are tracked by PID in `<home>/stack.json` and stopped by process group, so nothing else on the
machine is touched. Every listener binds 127.0.0.1.
"""

from __future__ import annotations

import fcntl
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from guardstream.operators.objectstore_settings import ObjectStoreSettings
from guardstream.pipeline.broker import tansu_command
from guardstream.pipeline.objectstore_server import PORT_NAMES, ObjectStoreServer
from guardstream.pipeline.processes import (
    StackError,
    free_port_range,
    group_alive,
    kill_group,
    pid_alive,
    port_open,
    spawn,
    stop_process_group,
    wait,
)
from guardstream.pipeline.ray_head import WORKER_PORTS, RayHead
from guardstream.pipeline.settings import Settings
from guardstream.pipeline.stack_state import ComponentState, StackState, reuse_ports

if TYPE_CHECKING:
    from guardstream.operators.lake import Lake

__all__ = [
    "LocalStack",
    "StackError",
    "StackState",
    "group_alive",
    "kill_group",
    "pid_alive",
    "port_open",
    "ray_endpoints",
]

log = structlog.get_logger(__name__)

COMPONENTS = ("objectstore", "kafka", "ray")
SUPERVISOR = "supervisor"
STOP_GRACE_S = {"objectstore": 5.0}  # weed lingers after SIGTERM; its store is crash-safe (tested with kill -9)


class LocalStack:
    """Start, inspect and stop the local components under one state folder."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = settings.stack.home.resolve()
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "logs").mkdir(exist_ok=True)
        self.store_server = ObjectStoreServer(self.home, settings.objectstore)
        self.ray_head = RayHead(self.home, settings.ray)

    # ---- paths and addresses -------------------------------------------------------------------
    @property
    def token_path(self) -> Path:
        return self.ray_head.token_path

    @property
    def ray_temp_dir(self) -> Path:
        return self.ray_head.temp_dir

    @property
    def runs_object_store(self) -> bool:
        """False when settings point at an external store (then no SeaweedFS is started)."""
        return self.settings.objectstore.endpoint_url is None

    @property
    def catalog_uri(self) -> str:
        return self.settings.lake.catalog_uri or f"sqlite:///{self.home / 'catalog.db'}"

    @property
    def warehouse(self) -> str:
        """The settings' warehouse, else the object store's lake bucket."""
        return self.settings.lake.warehouse or self.settings.objectstore.warehouse_uri()

    def object_store(self) -> ObjectStoreSettings | None:
        """Client settings for the object store: the settings' own when external, else the running store's."""
        if not self.runs_object_store:
            return self.settings.objectstore
        comp = StackState.load(self.home).components.get("objectstore")
        return self.store_server.client_settings(comp.ports["s3"]) if comp else None

    def connect(self, settings: Settings | None = None) -> Settings:
        """`settings` (default: the stack's) with the object store filled in where the lake and fetch need it."""
        base = settings or self.settings
        store = self.object_store()
        if store is None:
            return base
        lake = base.lake.model_copy(update={"store": store, "warehouse": base.lake.warehouse or self.warehouse})
        limits = base.limits.model_copy(update={"store": base.limits.store or store})
        return base.model_copy(update={"objectstore": store, "lake": lake, "limits": limits})

    def open_lake(self) -> Lake:
        """The lake this stack's catalog and warehouse hold."""
        from guardstream.operators.lake import Lake

        return Lake.open(self.connect().lake, uri=self.catalog_uri, warehouse=self.warehouse)

    def ray_env(self) -> dict[str, str]:
        """Environment a Ray client needs to talk to this head (token auth)."""
        return self.ray_head.client_env()

    # ---- lifecycle ------------------------------------------------------------------------------
    @contextmanager
    def _locked(self) -> Iterator[None]:
        """One `up` / `down` / restart at a time per home (the chaos harness and a CLI may race)."""
        with open(self.home / "stack.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def up(self, supervise: bool = True) -> dict[str, Any]:
        """Start what is not running; with `supervise`, also the supervisor that restarts what dies later."""
        with self._locked():
            state = StackState.load(self.home)
            self._restart_unhealthy(state)
            if not self._topics_ensured(state, last=False):
                # a broker that is up but does not answer: check every component again and restart the broker
                self._restart_unhealthy(state, force=frozenset({"kafka"}))
                self._topics_ensured(state, last=True)
            self._ensure_lake()
            if supervise and not self._healthy(state, SUPERVISOR):
                state.components[SUPERVISOR] = self._start_supervisor()
                state.save()
        return self.status()

    def down(self) -> dict[str, Any]:
        with self._locked():
            state = StackState.load(self.home)
            stopped = []
            for name in [n for n in (SUPERVISOR, *reversed(COMPONENTS)) if n in state.components]:
                self._stop_component(state, name)
                stopped.append(name)
            state.components.clear()
            state.save()
        return {"stopped": stopped}

    def status(self) -> dict[str, Any]:
        state = StackState.load(self.home)
        k = self.settings.kafka
        kafka, ray_c = state.components.get("kafka"), state.components.get("ray")
        store = self.object_store()
        expected = [n for n in COMPONENTS if n != "objectstore" or self.runs_object_store]
        return {
            "home": str(self.home),
            "kafka_bootstrap": f"127.0.0.1:{kafka.ports['kafka']}" if kafka else None,
            "topics": {"uploads": k.uploads_topic, "verdicts": k.verdicts_topic, "dead_letters": k.dead_letters_topic},
            "partitions": k.partitions,
            "broker_storage": self.settings.broker.storage,
            "ray_address": f"127.0.0.1:{ray_c.ports['gcs']}" if ray_c else None,
            "ray_dashboard": f"http://127.0.0.1:{ray_c.ports['dashboard']}" if ray_c else None,
            "ray_auth_token_path": str(self.token_path),
            "object_store": {
                "endpoint": store.endpoint_url if store else None,
                "buckets": list(self.store_server.buckets()),
                "credentials_path": str(self.store_server.credentials_path) if self.runs_object_store else None,
            },
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
            "healthy": all(self._healthy(state, n) for n in expected),
        }

    # ---- components -----------------------------------------------------------------------------
    def _healthy(self, state: StackState, name: str) -> bool:
        comp = state.components.get(name)
        return bool(comp and pid_alive(comp.pid) and all(port_open(p) for p in comp.probed_ports()))

    def _start(self, name: str, previous: ComponentState | None) -> ComponentState:
        if name == "objectstore":
            return self._start_objectstore(previous)
        if name == "kafka":
            return self._start_kafka(previous)
        return self._start_ray(previous)

    def _launch(
        self, name: str, argv: list[str], env: dict[str, str], ports: dict[str, int], probe: tuple[str, ...] = ()
    ) -> ComponentState:
        log_path = self.home / "logs" / f"{name}.log"
        comp = ComponentState(pid=spawn(name, argv, log_path, env), ports=ports, log=str(log_path), probe=list(probe))
        ready = lambda: all(port_open(p) for p in comp.probed_ports()) or not pid_alive(comp.pid)  # noqa: E731
        wait(ready, self.settings.stack.start_timeout_s, name)
        if not pid_alive(comp.pid):
            raise StackError(f"{name} exited at start; see {log_path}")
        return comp

    def _start_objectstore(self, previous: ComponentState | None) -> ComponentState:
        ports = reuse_ports(previous, PORT_NAMES)
        comp = self._launch("objectstore", self.store_server.argv(ports), {}, ports)
        ready = lambda: self.store_server.ensure_buckets(ports["s3"]) or not pid_alive(comp.pid)  # noqa: E731
        wait(ready, self.settings.stack.start_timeout_s, "object store buckets")
        if not pid_alive(comp.pid):
            raise StackError(f"object store exited at start; see {comp.log}")
        return comp

    def _start_kafka(self, previous: ComponentState | None) -> ComponentState:
        ports = reuse_ports(previous, ("kafka",))
        store = self.object_store() if self.settings.broker.storage == "s3" else None
        argv, env = tansu_command(self.settings.broker, ports["kafka"], store)
        return self._launch("kafka", argv, {**env, "RUST_LOG": "warn"}, ports)

    def _start_supervisor(self) -> ComponentState:
        from guardstream.pipeline.supervisor import save_settings

        save_settings(self.settings, self.home)
        log_path = self.home / "logs" / f"{SUPERVISOR}.log"
        pid = spawn(SUPERVISOR, [sys.executable, "-m", "guardstream.pipeline.supervisor", str(self.home)], log_path)
        return ComponentState(pid=pid, ports={}, log=str(log_path))

    def _restart_unhealthy(self, state: StackState, force: frozenset[str] = frozenset()) -> None:
        """Restart each dead component (and those in `force`), in dependency order, on the ports it had."""
        for name in COMPONENTS:
            if name == "objectstore" and not self.runs_object_store:
                continue
            if name in force or not self._healthy(state, name):
                previous = state.components.get(name)
                self._stop_component(state, name)
                state.components[name] = self._start(name, previous)
                state.save()

    def _topics_ensured(self, state: StackState, last: bool) -> bool:
        """Create the topics; False when the broker does not answer (raise instead when `last`). tansu accepts
        connections before its S3 storage answers, then drops them: after a restart of the store that can last
        well past 30 s on a loaded 2-core host (seen in the suite), so wait up to 2 minutes."""
        from kafka.errors import KafkaConnectionError, KafkaTimeoutError

        from guardstream.operators.kafka_admin import ensure_topics

        k = self.settings.kafka
        bootstrap = f"127.0.0.1:{state.components['kafka'].ports['kafka']}"
        topics = [k.uploads_topic, k.verdicts_topic, k.dead_letters_topic]
        try:
            ensure_topics(bootstrap, topics, k.partitions, k.client_config(), timeout_s=120.0)
        except (KafkaConnectionError, KafkaTimeoutError) as exc:
            if last:
                raise StackError(f"the broker at {bootstrap} does not answer: {exc}") from exc
            log.warning("stack.broker_unresponsive", bootstrap=bootstrap, error=str(exc))
            return False
        return True

    def _start_ray(self, previous: ComponentState | None) -> ComponentState:
        ports = reuse_ports(previous, RayHead.PORT_NAMES)
        if previous is None or ports["min_worker"] != previous.ports.get("min_worker"):
            ports["min_worker"] = free_port_range(WORKER_PORTS)
        return self._launch("ray", self.ray_head.argv(ports), self.ray_head.head_env(), ports, probe=RayHead.PROBED)

    def _ensure_lake(self) -> None:
        self.open_lake().ensure_tables()

    def _stop_component(self, state: StackState, name: str) -> None:
        comp = state.components.pop(name, None)
        if comp is None:
            return
        stop_process_group(comp.pid, grace_s=STOP_GRACE_S.get(name, 15.0))
        log.info("stack.stopped", component=name, pid=comp.pid)


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
