"""Closed network: every listener of the local stack binds loopback, and nothing answers without credentials.

Lists the listening sockets of every process in the stack's process groups (SeaweedFS, tansu, the Ray head and
all it starts: GCS, raylet, dashboard and its agent, metrics export, runtime-env agent, client server, workers,
the supervisor) and of a Ray driver connected the way guardstream's commands connect, and fails on any address
that is not 127.0.0.1 / ::1 (or ::ffff:127.0.0.1).
"""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request

import psutil
import pytest

from guardstream.pipeline.stack import LocalStack, StackState, ray_endpoints

pytestmark = [pytest.mark.kafka, pytest.mark.ray]


def _is_loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def listeners(pids: set[int]) -> list[tuple[int, str, str, int]]:
    """(pid, name, address, port) of every listening TCP socket of these processes."""
    found = []
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.pid in pids and conn.laddr:
            found.append((conn.pid, psutil.Process(conn.pid).name(), conn.laddr.ip, conn.laddr.port))
    return found


def stack_pids(stack: LocalStack) -> set[int]:
    groups = {c.pid for c in StackState.load(stack.home).components.values()}
    pids = set()
    for proc in psutil.process_iter(["pid"]):
        try:
            if os.getpgid(proc.pid) in groups:
                pids.add(proc.pid)
        except ProcessLookupError:
            continue
    return pids


DRIVER = """
import json, os, sys
import psutil
from guardstream.engines.serve.deploy import connect_ray
connect_ray(sys.argv[1], json.loads(sys.argv[2]))
import ray
@ray.remote
def ping() -> int:
    return 1
assert ray.get(ping.remote()) == 1
me = psutil.Process()
print(json.dumps([c.laddr.ip for c in me.net_connections(kind="tcp") if c.status == psutil.CONN_LISTEN]))
"""


def test_every_listener_of_the_stack_and_of_a_driver_is_on_loopback(local_stack: LocalStack) -> None:
    address, env = ray_endpoints(local_stack.settings, local_stack)
    out = subprocess.run(
        [sys.executable, "-c", DRIVER, address, json.dumps(env)], capture_output=True, text=True, timeout=180,
        check=True,
    ).stdout  # fmt: skip
    driver = json.loads(out.strip().splitlines()[-1])
    assert driver and all(_is_loopback(a) for a in driver), driver
    found = listeners(stack_pids(local_stack))
    names = {name for _, name, _, _ in found}
    assert {"weed", "tansu", "gcs_server", "raylet"} <= names, names
    exposed = [entry for entry in found if not _is_loopback(entry[2])]
    assert exposed == [], exposed


def _status(url: str, method: str = "GET", token: str | None = None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = b"{}" if method == "POST" else None
    try:
        request = urllib.request.Request(url, data=body, method=method, headers=headers)
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_ray_dashboard_and_job_api_refuse_requests_without_the_token(local_stack: LocalStack) -> None:
    dashboard = local_stack.status()["ray_dashboard"]
    for path in ("/api/jobs/", "/api/version", "/api/serve/applications/", "/nodes?view=summary"):
        assert _status(dashboard + path) == 401, path
    assert _status(dashboard + "/api/jobs/", method="POST") == 401
    token = local_stack.token_path.read_text().strip()
    assert _status(dashboard + "/api/jobs/", token=token) == 200


def test_object_store_refuses_anonymous_requests(local_stack: LocalStack) -> None:
    store = local_stack.object_store()
    assert store is not None and store.endpoint_url
    for bucket in (store.media_bucket, store.lake_bucket, store.broker_bucket):
        assert _status(f"{store.endpoint_url}/{bucket}") == 403
        assert _status(f"{store.endpoint_url}/{bucket}/x", method="PUT") == 403
