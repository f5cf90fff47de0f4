"""The manifests carry what production needs instead of loopback: Kafka over TLS with SCRAM, the Ray token and
object-store credentials from Secrets (never inline), and NetworkPolicies around the Ray cluster and the job."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

K8S = Path(__file__).resolve().parents[1] / "k8s"


def _docs(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((K8S / name).read_text()) if d]


def _job_env(name: str = "flink-job.yaml") -> tuple[dict[str, Any], list[str]]:
    (job,) = _docs(name)
    (container,) = job["spec"]["podTemplate"]["spec"]["containers"]
    return {e["name"]: e.get("value") for e in container["env"]}, [s["secretRef"]["name"] for s in container["envFrom"]]


def test_the_job_talks_to_kafka_over_tls_with_scram_and_reads_credentials_from_secrets() -> None:
    env, secrets = _job_env()
    assert env["GUARDSTREAM_KAFKA__SECURITY_PROTOCOL"] == "SASL_SSL"
    assert env["GUARDSTREAM_KAFKA__SASL_MECHANISM"] == "SCRAM-SHA-512"
    assert env["GUARDSTREAM_OBJECTSTORE__ENDPOINT_URL"].startswith("https://")
    assert env["GUARDSTREAM_LAKE__WAREHOUSE"].startswith("s3://")
    assert "guardstream-objectstore" in secrets
    assert not any("SECRET" in name or "PASSWORD" in name for name in env), "credentials only through Secrets"


def test_kafka_listener_requires_tls_and_scram() -> None:
    (kafka,) = [d for d in _docs("kafka.yaml") if d["kind"] == "Kafka"]
    listeners = kafka["spec"]["kafka"]["listeners"]
    assert listeners and all(lst["tls"] and lst["authentication"]["type"] == "scram-sha-512" for lst in listeners)


def test_ray_token_comes_from_a_secret_and_the_dashboard_stays_in_the_pod() -> None:
    (service,) = _docs("rayservice.yaml")
    head = service["spec"]["rayClusterConfig"]["headGroupSpec"]
    assert head["rayStartParams"]["dashboard-host"] == "127.0.0.1"
    env = {e["name"]: e for e in head["template"]["spec"]["containers"][0]["env"]}
    assert env["RAY_AUTH_MODE"]["value"] == "token"
    assert env["RAY_AUTH_TOKEN"]["valueFrom"]["secretKeyRef"]["name"] == "guardstream-ray-token"


def test_network_policies_admit_only_the_job_to_the_guard_cluster() -> None:
    policies = {d["metadata"]["name"]: d for d in _docs("network-policy.yaml")}
    guards = policies["guardstream-guards-ingress"]["spec"]
    assert guards["policyTypes"] == ["Ingress"]
    sources = [peer["podSelector"]["matchLabels"] for rule in guards["ingress"] for peer in rule["from"]]
    assert sources == [{"ray.io/cluster": "guardstream-guards"}, {"app": "guardstream-stream"}]
    (job,) = _docs("flink-job.yaml")
    assert job["spec"]["podTemplate"]["metadata"]["labels"] == {"app": "guardstream-stream"}
