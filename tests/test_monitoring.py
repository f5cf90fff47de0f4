"""The committed alert rules and Grafana dashboard (k8s/monitoring/) are valid PromQL / JSON and query only
metrics guardstream or Ray Serve actually exports."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from guardstream.operators.metrics import DEFINITIONS

ROOT = Path(__file__).resolve().parents[1]
MONITORING = ROOT / "k8s" / "monitoring"
RAY_SERVE_METRICS = {"serve_deployment_replica_starts", "serve_deployment_queued_queries"}


def _exported_names() -> set[str]:
    """Metric names the code declares (pipeline, guard and plan metrics), plus Ray Serve's own we query."""
    names = set(DEFINITIONS) | RAY_SERVE_METRICS
    for path in (ROOT / "engines" / "serve").rglob("*.py"):
        names |= set(re.findall(r"\"(guardstream_\w+)\"", path.read_text()))
    return names


def _rules() -> list[dict[str, object]]:
    doc = yaml.safe_load((MONITORING / "prometheus-rules.yaml").read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def _dashboard_exprs() -> list[str]:
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    return [t["expr"] for p in dashboard["panels"] for t in p["targets"]]


def _referenced(expr: str) -> set[str]:
    names = re.findall(r"\bray_(\w+?)(?:_total|_bucket|_count|_sum)?\b", expr)
    return set(names)


def test_alert_rules_are_well_formed() -> None:
    rules = _rules()
    assert len(rules) >= 6
    for rule in rules:
        assert {"alert", "expr", "labels", "annotations"} <= set(rule), rule
        assert rule["labels"]["severity"] in {"page", "ticket"}  # type: ignore[index]


def test_every_queried_metric_is_exported() -> None:
    exported = _exported_names()
    queried = set().union(*(_referenced(str(r["expr"])) for r in _rules()), *map(_referenced, _dashboard_exprs()))
    assert queried and queried <= exported, queried - exported


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed (Debian package prometheus)")
def test_promtool_accepts_rules_and_dashboard_queries(tmp_path: Path) -> None:
    checked = subprocess.run(["promtool", "check", "rules", str(MONITORING / "prometheus-rules.yaml")],
                             capture_output=True, text=True, check=False)  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
    recording = [{"record": f"guardstream:panel_{i}", "expr": e} for i, e in enumerate(_dashboard_exprs())]
    (tmp_path / "panels.yaml").write_text(yaml.safe_dump({"groups": [{"name": "panels", "rules": recording}]}))
    checked = subprocess.run(["promtool", "check", "rules", str(tmp_path / "panels.yaml")],
                             capture_output=True, text=True, check=False)  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
