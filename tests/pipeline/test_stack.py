"""The local stack on real processes: up / status / down, idempotent up, restart of a dead component.

Durability and the broker-on-S3 traps are in tests/pipeline/test_durable_broker.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from guardstream.pipeline.stack import LocalStack, StackState, group_alive, kill_group, pid_alive, port_open

pytestmark = [pytest.mark.kafka, pytest.mark.ray]


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GUARDSTREAM_STACK__HOME": str(home), "GUARDSTREAM_RAY__NUM_CPUS": "1"}
    cmd = [sys.executable, "-m", "guardstream.pipeline.cli", "stack", *args, "--json"]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180, check=False)


def test_stack_up_status_down_through_the_cli(tmp_path: Path) -> None:
    home = tmp_path / "home"
    up = _cli(home, "up")
    assert up.returncode == 0, up.stderr
    try:
        status = json.loads(_cli(home, "status").stdout)
        assert status["healthy"] is True
        for key in ("kafka_bootstrap", "topics", "ray_address", "ray_dashboard", "catalog", "object_store"):
            assert status[key], key
        assert status["broker_storage"] == "s3" and status["catalog"]["warehouse"].startswith("s3://")
        assert status["object_store"]["endpoint"].startswith("http://127.0.0.1:")
        assert set(status["topics"]) == {"uploads", "verdicts", "dead_letters"}
        assert status["ray_dashboard"].startswith("http://127.0.0.1:")
        pids = {name: c["pid"] for name, c in status["components"].items()}

        again = json.loads(_cli(home, "up").stdout)  # idempotent: same processes
        assert {n: c["pid"] for n, c in again["components"].items()} == pids
    finally:
        down = _cli(home, "down")
    assert down.returncode == 0
    assert json.loads(down.stdout)["stopped"] == ["supervisor", "ray", "kafka", "objectstore"]
    assert not any(group_alive(pid) for pid in pids.values())
    after = _cli(home, "status")
    assert after.returncode == 1 and json.loads(after.stdout)["healthy"] is False


def test_up_restarts_a_dead_component(local_stack: LocalStack) -> None:
    before = StackState.load(local_stack.home).components
    kafka_pid, ray_pid = before["kafka"].pid, before["ray"].pid
    kill_group(kafka_pid)
    assert not local_stack.status()["healthy"]
    status = local_stack.up()
    assert status["healthy"]
    after = StackState.load(local_stack.home).components
    assert after["kafka"].pid != kafka_pid and pid_alive(after["kafka"].pid)
    assert after["ray"].pid == ray_pid, "a healthy component is left alone"
    assert port_open(after["kafka"].ports["kafka"])
    assert after["kafka"].ports == before["kafka"].ports, "restarted on its old port: clients keep their address"


def test_dashboard_and_gcs_bind_loopback_only(local_stack: LocalStack) -> None:
    status = local_stack.status()
    host, port = status["ray_address"].split(":")
    assert host == "127.0.0.1" and port_open(int(port))
    assert local_stack.token_path.exists() and oct(local_stack.token_path.stat().st_mode)[-3:] == "600"
    credentials = local_stack.store_server.credentials_path
    assert oct(credentials.stat().st_mode)[-3:] == "600"
    assert oct(local_stack.store_server.identities_path.stat().st_mode)[-3:] == "600"


def test_kafka_client_config_carries_sasl_and_tls() -> None:
    from guardstream.pipeline.settings import KafkaSettings

    kafka = KafkaSettings.model_validate(
        {"security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512", "sasl_username": "u",
         "sasl_password": "s3cr3t-pw", "ssl_cafile": "/etc/ca.pem"}
    )  # fmt: skip
    assert kafka.client_config() == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "u",
        "sasl_plain_password": "s3cr3t-pw",
        "ssl_cafile": "/etc/ca.pem",
    }
    assert "s3cr3t-pw" not in repr(kafka)
