"""The Kubernetes manifests parse, name the topics the settings use, and ship the committed policy pack."""

from __future__ import annotations

from pathlib import Path

import yaml

from guardstream.pipeline.settings import KafkaSettings
from guardstream.schemas.policy import DEFAULT_PACK, parse_policy_pack

K8S = Path(__file__).resolve().parents[1] / "k8s"


def _docs(name: str) -> list[dict]:  # type: ignore[type-arg]
    return [d for d in yaml.safe_load_all((K8S / name).read_text()) if d]


def test_every_manifest_parses_with_kind_and_name() -> None:
    for path in K8S.glob("*.yaml"):
        for doc in _docs(path.name):
            assert doc["kind"] and doc["metadata"]["name"], path.name


def test_kafka_topics_match_the_settings() -> None:
    topics = {d["metadata"]["name"] for d in _docs("kafka.yaml") if d["kind"] == "KafkaTopic"}
    k = KafkaSettings()
    assert topics == {k.uploads_topic, k.verdicts_topic, k.dead_letters_topic}


def test_policy_configmap_is_the_committed_pack() -> None:
    (configmap,) = _docs("policies-configmap.yaml")
    assert configmap["data"]["default.yaml"] == DEFAULT_PACK.read_text()
    parse_policy_pack(yaml.safe_load(configmap["data"]["default.yaml"]))
