"""Fail-closed clients: whatever goes wrong between caller and guard (a replica dies, a timeout, a refused
body), every request still gets a GuardResult — an error result the aggregator turns into HOLD."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from guardstream.engines.base import GuardRequest, GuardResult
from guardstream.engines.serve.wire import decode_results, encode_requests


def failed(requests: Sequence[GuardRequest], reason: str) -> list[GuardResult]:
    return [GuardResult(r.request_id, error=reason) for r in requests]


async def score_by_handle(handle: Any, requests: Sequence[GuardRequest], timeout_s: float) -> list[GuardResult]:
    """Score through a Serve DeploymentHandle (async callers)."""
    import asyncio

    try:
        results = await asyncio.wait_for(handle.score.remote(list(requests)), timeout_s)
    except Exception as exc:
        return failed(requests, f"guard service failed: {type(exc).__name__}")
    return _matched(requests, results)


def score_by_handle_sync(handle: Any, requests: Sequence[GuardRequest], timeout_s: float) -> list[GuardResult]:
    """Score through a Serve DeploymentHandle (blocking callers outside an event loop)."""
    try:
        results = handle.score.remote(list(requests)).result(timeout_s=timeout_s)
    except Exception as exc:
        return failed(requests, f"guard service failed: {type(exc).__name__}")
    return _matched(requests, results)


def score_by_http(url: str, requests: Sequence[GuardRequest], timeout_s: float) -> list[GuardResult]:
    """POST the wire body to the app's HTTP ingress; policy ids are resolved by the server."""
    import requests as http

    try:
        response = http.post(url, data=encode_requests(requests, policy_ids_only=True), timeout=timeout_s)
        if response.status_code != 200:
            reason = (
                response.json().get("error", "")
                if response.headers.get("content-type", "").startswith("application/json")
                else ""
            )
            return failed(requests, f"guard service refused the request (HTTP {response.status_code}): {reason}")
        return _matched(requests, decode_results(response.content))
    except Exception as exc:
        return failed(requests, f"guard service failed: {type(exc).__name__}")


def _matched(requests: Sequence[GuardRequest], results: Sequence[GuardResult]) -> list[GuardResult]:
    if [r.request_id for r in results] != [r.request_id for r in requests]:
        return failed(requests, "guard service answered out of order")
    return list(results)
