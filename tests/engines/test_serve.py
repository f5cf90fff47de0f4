"""End to end on a real Ray Serve: handle and HTTP paths, bad bodies, live reconfigure, Prometheus metrics,
and a replica killed under traffic with every request answered or failed closed. One Ray instance and one
two-replica app are shared by the module (2-core budget)."""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
import requests as http

from guardstream.engines.base import Frames, GuardRequest, TextEvidence
from guardstream.engines.plan.result import FusedScore, PlanResult
from guardstream.engines.serve.app import GuardAppArgs, deployment_name, run_app
from guardstream.engines.serve.client import score_by_handle_sync, score_by_http
from guardstream.engines.serve.cluster import use_token_auth
from guardstream.engines.serve.deploy import free_port
from guardstream.engines.serve.wire import MAGIC, encode_requests
from guardstream.engines.text.labelled_set import render_frame
from guardstream.operators.aggregate import build_verdict
from guardstream.schemas.policy import load_policy_pack
from tests.conftest import make_event

pytestmark = [pytest.mark.ray, pytest.mark.e2e]

APP = "guardstream-test"
ROUTE = "/guard"
POLICY_SET = load_policy_pack().policy_set("default")
POLICIES = tuple(POLICY_SET.policy(p) for p in ("c4.scam", "c3.threats", "c6.hate"))
ARGS = GuardAppArgs(num_replicas=2, num_cpus=0.5, max_batch_size=8)


class Cluster:
    def __init__(self, handle: object, http_port: int, metrics_port: int, plan: object) -> None:
        self.handle = handle
        self.plan = plan
        self.url = f"http://127.0.0.1:{http_port}{ROUTE}"
        self.plan_url = f"http://127.0.0.1:{http_port}{PLAN_ROUTE}"
        self.metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"


PLAN_ROUTE = "/plan"
PLAN_APP = "guardstream-plan-test"


def _plan_args(tmp_path_factory: pytest.TempPathFactory) -> GuardAppArgs:
    """A cascade over real guards: the text guard screens every policy, the SafeWatch-style guard (tiny random
    checkpoint) explains what it flags or is unsure about. The text guard takes up to 128 frames, SafeWatch 64."""
    import yaml

    from guardstream.engines.safewatch.make_checkpoint import make_checkpoint
    from guardstream.schemas.policy import DEFAULT_PACK

    root = tmp_path_factory.mktemp("plan")
    pack = yaml.safe_load(DEFAULT_PACK.read_text())
    pack["plans"] = [{"id": "cascade", "policy_set": "default", "stages": [
        {"name": "screen", "guards": [{"guard": "text"}]},
        {"name": "explain", "run": "escalated", "unsure_band": 0.15, "guards": [{"guard": "safewatch"}]},
    ]}]  # fmt: skip
    (root / "pack.yaml").write_text(yaml.safe_dump(pack))
    checkpoint = make_checkpoint(root / "sw", "tiny")
    members = {"text": {"guard_kwargs": {"max_frames_per_request": 128}},
               "safewatch": {"guard_kwargs": {"checkpoint": str(checkpoint)}}}  # fmt: skip
    return GuardAppArgs.model_validate(
        {"plan": "cascade", "policy_pack": root / "pack.yaml", "num_cpus": 1.0, "members": members}
    )


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    import ray
    from ray import serve

    token = tmp_path_factory.mktemp("ray") / "ray_auth_token"
    token.write_text(secrets.token_hex(32))
    saved = {k: os.environ.get(k) for k in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN_PATH", "HF_HUB_OFFLINE")}
    os.environ["HF_HUB_OFFLINE"] = "1"
    use_token_auth(token)
    metrics_port, http_port = free_port(), free_port()
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        object_store_memory=256 * 1024 * 1024,
        _metrics_export_port=metrics_port,
        log_to_driver=False,
    )
    try:
        handle = run_app(ARGS, app_name=APP, route_prefix=ROUTE, http_port=http_port)
        plan = run_app(_plan_args(tmp_path_factory), app_name=PLAN_APP, route_prefix=PLAN_ROUTE, http_port=http_port)
        yield Cluster(handle, http_port, metrics_port, plan)
    finally:
        serve.shutdown()
        ray.shutdown()
        for k, v in saved.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)


def _request(request_id: str, phrase: str, seed: int = 0) -> GuardRequest:
    still = render_frame(phrase, random.Random(seed))
    frames = Frames(np.stack([still, still]), (0.0, 1.0), (0, 30))
    return GuardRequest(request_id, frames, POLICIES, TextEvidence(title="my upload"))


PHRASES = ("Send 1 BTC and get 2 BTC back today", "Sunset at the beach", "I will find you and hurt you")


def test_handle_scores_a_batch_in_order(cluster: Cluster) -> None:
    requests = [_request(f"h{i}", PHRASES[i % 3], i) for i in range(8)]
    results = score_by_handle_sync(cluster.handle, requests, timeout_s=120)
    assert [r.request_id for r in results] == [r.request_id for r in requests]
    assert all(r.ok and [s.policy_id for s in r.scores] == [p.id for p in POLICIES] for r in results)
    scam = results[0].scores[0]
    assert scam.probability > results[1].scores[0].probability and scam.evidence.text_field == "ocr"


def test_http_matches_handle_and_refuses_bad_bodies(cluster: Cluster) -> None:
    requests = [_request("x0", PHRASES[0]), _request("x1", PHRASES[1], 1)]
    by_http = score_by_http(cluster.url, requests, timeout_s=120)
    by_handle = score_by_handle_sync(cluster.handle, requests, timeout_s=120)
    for a, b in zip(by_http, by_handle, strict=True):
        assert a.ok and np.allclose([s.probability for s in a.scores], [s.probability for s in b.scores], atol=1e-6)
        assert a.scores[0].evidence == b.scores[0].evidence

    def post(body: bytes) -> http.Response:
        return http.post(cluster.url, data=body, timeout=60)

    assert post(b"not a wire body").status_code == 400
    assert post(b"\x80\x04\x95pickle").status_code == 400
    body = encode_requests(requests[:1], policy_ids_only=True)
    response = post(_rewrite(body, lambda r: r.update(policies=["c9.nope"])))
    assert response.status_code == 400 and "unknown policy id" in response.json()["error"]
    response = post(_rewrite(body, lambda r: r["frames"].update(dtype="float32")))
    assert response.status_code == 400 and "uint8" in response.json()["error"]
    bad_utf8 = body[:8] + body[8:].replace(b"my upload", b"my \xff\xfeload", 1)
    assert "UTF-8" in post(bad_utf8).json()["error"]
    too_many = GuardRequest("many", Frames(np.zeros((65, 8, 8, 3), np.uint8), (0.0,) * 65, (0,) * 65), POLICIES)
    result = score_by_http(cluster.url, [too_many], timeout_s=60)[0]
    assert not result.ok and "65 frames > limit" in (result.error or "")


def _rewrite(body: bytes, edit: Callable[[dict[str, Any]], None]) -> bytes:
    """Re-pack a wire body after editing its first request's header entry."""
    size = int.from_bytes(body[4:8], "big")
    header = json.loads(body[8 : 8 + size])
    edit(header["requests"][0])
    raw = json.dumps(header).encode()
    return MAGIC + len(raw).to_bytes(4, "big") + raw + body[8 + size :]


def _metric_families(text: str) -> set[str]:
    return set(re.findall(r"^(ray_guardstream_guard_\w+?)(?:_total|_bucket|_count|_sum)?\{", text, re.M))


def test_custom_metrics_reach_the_prometheus_endpoint(cluster: Cluster) -> None:
    score_by_handle_sync(cluster.handle, [_request("m0", PHRASES[0])], timeout_s=120)
    wanted = {
        "ray_guardstream_guard_requests",
        "ray_guardstream_guard_batch_size",
        "ray_guardstream_guard_latency_ms",
        "ray_guardstream_guard_policy_flags",
        "ray_guardstream_guard_errors",
    }
    found: set[str] = set()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not wanted <= found:
        with contextlib.suppress(http.RequestException):
            found = _metric_families(http.get(cluster.metrics_url, timeout=10).text)
        time.sleep(2)
    assert wanted <= found, f"missing {wanted - found}"


def test_killing_a_replica_under_traffic_loses_no_request(cluster: Cluster) -> None:
    import ray

    sent: list[str] = []
    results: dict[str, Any] = {}
    lock = threading.Lock()

    def client(worker: int) -> None:
        for n in range(6):
            request = _request(f"k{worker}-{n}", PHRASES[n % 3], n)
            with lock:
                sent.append(request.request_id)
            for result in score_by_handle_sync(cluster.handle, [request], timeout_s=120):
                with lock:
                    results[result.request_id] = result

    threads = [threading.Thread(target=client, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 120
    while len(results) < 2 and time.monotonic() < deadline:  # traffic is flowing
        time.sleep(0.05)
    ours = f"{APP}#{deployment_name('text')}#"  # the plan app has a text member too: leave it alone
    replicas = [a for a in ray.util.list_named_actors(all_namespaces=True) if ours in a["name"]]
    assert replicas, "no replica actor found"
    ray.kill(ray.get_actor(replicas[0]["name"], namespace=replicas[0]["namespace"]), no_restart=True)
    answered_before_kill = len(results)
    for t in threads:
        t.join(timeout=300)
    assert answered_before_kill < 24, "the kill landed after all traffic; nothing was tested"
    assert sorted(results) == sorted(sent) and len(sent) == 24  # every request answered
    for result in results.values():  # answered means scored, or an error the caller turns into HOLD
        assert result.ok or (result.error and not result.scores)
    recovered = False
    for attempt in range(30):  # the router may need a moment to drop the dead replica
        after = score_by_handle_sync(
            cluster.handle, [_request(f"after-{attempt}-{n}", PHRASES[0], n) for n in range(4)], 120
        )
        if all(r.ok for r in after):
            recovered = True
            break
        assert all(r.error and not r.scores for r in after if not r.ok)  # meanwhile: fail closed, never allow
        time.sleep(1.0)
    assert recovered, "the surviving replica serves new requests"


def _plan_request(request_id: str, phrase: str, n_frames: int = 2) -> GuardRequest:
    still = render_frame(phrase, random.Random(0))
    frames = Frames(np.stack([still] * n_frames), tuple(float(i) for i in range(n_frames)), tuple(range(n_frames)))
    return GuardRequest(request_id, frames, POLICY_SET.policies, TextEvidence(title=phrase), POLICY_SET.version)


def test_plan_app_runs_the_cascade_by_handle_and_http_and_names_its_version(cluster: Cluster) -> None:
    requests = [_plan_request("p-scam", PHRASES[0]), _plan_request("p-beach", PHRASES[1])]
    results = score_by_handle_sync(cluster.plan, requests, timeout_s=300)
    assert all(isinstance(r, PlanResult) and r.ok for r in results)
    identity = cluster.plan.describe.remote().result(timeout_s=120)  # type: ignore[attr-defined]
    assert identity["guard"] == "plan:cascade" and identity["members"]["safewatch"]["guard_version"].startswith("1+")
    for result in results:
        assert isinstance(result, PlanResult) and result.plan_version == identity["guard_version"]
        text = {s.policy_id: dict(s.guard_scores)["text"] for s in result.scores if isinstance(s, FusedScore)}
        escalated = tuple(p.id for p in POLICY_SET.policies if text[p.id] >= p.thresholds.review - 0.15)
        assert [c.policy_ids for c in result.guards_run if c.guard == "safewatch"] == ([escalated] if escalated else [])
    scam = next(s for s in results[0].scores if s.policy_id == "c4.scam")
    assert isinstance(scam, FusedScore) and [g for g, _ in scam.guard_scores] == ["text", "safewatch"]
    by_http = score_by_http(cluster.plan_url, requests, timeout_s=300)
    for a, b in zip(by_http, results, strict=True):
        assert isinstance(a, PlanResult) and a.guards_run and a.plan_version == b.plan_version
        assert np.allclose([s.probability for s in a.scores], [s.probability for s in b.scores], atol=1e-5)
    wanted = {f"ray_guardstream_plan_{m}" for m in ("requests", "guard_calls", "escalations", "latency_ms")}
    found: set[str] = set()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not wanted <= found:
        with contextlib.suppress(http.RequestException):
            text = http.get(cluster.metrics_url, timeout=10).text
            found = set(re.findall(r"^(ray_guardstream_plan_\w+?)(?:_total|_bucket|_count|_sum)?\{", text, re.M))
        time.sleep(2)
    assert wanted <= found, f"missing {wanted - found}"


def test_plan_member_that_refuses_fails_closed_for_the_policies_it_was_asked(cluster: Cluster) -> None:
    """65 frames: the text guard (limit 128) scores them, SafeWatch (limit 64) refuses the policies it escalates."""
    [result] = score_by_handle_sync(cluster.plan, [_plan_request("p-65", PHRASES[0], n_frames=65)], timeout_s=300)
    assert isinstance(result, PlanResult)
    escalated = next(c.policy_ids for c in result.guards_run if c.guard == "safewatch")
    assert "c4.scam" in escalated and set(result.policy_errors) == set(escalated)
    assert all(
        "guard safewatch failed: invalid request: 65 frames > limit 64" in e for e in result.policy_errors.values()
    )
    verdict = build_verdict(
        event=make_event(7), policy_set=POLICY_SET, guard_name="-", guard_version="-", result=result
    )
    assert verdict.action.value == "hold" and verdict.status.value == "error"
    assert {r.policy_id for r in verdict.results if r.error is None} == set(POLICY_SET.policy_ids) - set(escalated)


def test_reconfigure_changes_batch_size_and_thresholds_on_redeploy(cluster: Cluster) -> None:
    """Runs last: it leaves the app at batch size 4 with a raised c4.scam threshold."""
    from ray import serve

    updated = ARGS.model_copy(update={"max_batch_size": 4, "thresholds": {"c4.scam": 0.9}})
    handle = serve.run(_build(updated), name=APP, route_prefix=ROUTE)
    described = [handle.describe.remote().result(timeout_s=60) for _ in range(6)]
    assert all(d["max_batch_size"] == 4 and d["thresholds"] == {"c4.scam": 0.9} for d in described)


def _build(args: GuardAppArgs):  # type: ignore[no-untyped-def]
    from guardstream.engines.serve.app import build_app

    return build_app(args)
