"""Guard requests/s through the Ray Serve handle vs in-process guard calls, in the same run (batch 8).

Both sides score the same requests with the same guard settings: in-process as `score_fail_closed` on batches
of `--batch`, through Serve as handle calls of `--batch` requests (two in flight) that `@serve.batch` scores
together, as the streaming job's RunInference sends them.
`handle_vs_inprocess` = handle rate / in-process rate (target >= 0.9).
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from guardstream.pipeline.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--requests", type=int, default=48, help="requests per side")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--guard", default="text")


def _requests(n: int) -> list[Any]:
    import numpy as np

    from guardstream.engines.base import Frames, GuardRequest, TextEvidence
    from guardstream.engines.text.labelled_set import NEUTRAL_PHRASES, PHRASES, render_frame
    from guardstream.schemas.policy import load_policy_pack

    policies = load_policy_pack().policy_set("default").policies
    phrases = [p for kinds in PHRASES.values() for ps in kinds.values() for p in ps] + NEUTRAL_PHRASES
    rng = random.Random(3)
    out = []
    for i in range(n):
        still = render_frame(phrases[i % len(phrases)], rng)
        out.append(GuardRequest(f"b{i}", Frames(np.stack([still]), (0.0,), (0,)), policies, TextEvidence(title="clip")))
    return out


def _inprocess_rate(guard_name: str, requests: list[Any], batch: int) -> float:
    from guardstream.engines.base import create_guard, score_fail_closed

    guard = create_guard(guard_name)
    guard.load()
    guard.warmup()
    score_fail_closed(guard, requests[:batch])
    start = time.perf_counter()
    for i in range(0, len(requests), batch):
        results = score_fail_closed(guard, requests[i : i + batch])
        assert all(r.ok for r in results)
    rate = len(requests) / (time.perf_counter() - start)
    guard.close()
    return rate


def _handle_rate(guard_name: str, requests: list[Any], batch: int) -> tuple[float, int]:
    import ray
    from ray import serve

    from guardstream.engines.serve.app import GuardAppArgs, run_app
    from guardstream.engines.serve.client import score_by_handle_sync
    from guardstream.engines.serve.cluster import use_token_auth
    from guardstream.engines.serve.deploy import free_port

    token = Path(tempfile.mkdtemp(prefix="gs-bench-")) / "ray_auth_token"
    token.write_text(secrets.token_hex(32))
    use_token_auth(token)
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=256 * 1024 * 1024, log_to_driver=False)
    try:
        args = GuardAppArgs(guard=guard_name, max_batch_size=batch, batch_wait_timeout_s=0.05, num_cpus=1)
        handle = run_app(args, app_name="bench", route_prefix="/bench", http_port=free_port())
        score_by_handle_sync(handle, requests[:batch], timeout_s=300)
        chunks = [requests[i : i + batch] for i in range(0, len(requests), batch)]
        # Two calls in flight, each carrying one batch (as RunInference sends them): the replica always has the
        # next batch queued while the driver serialises the one after.
        with ThreadPoolExecutor(max_workers=2) as pool:
            start = time.perf_counter()
            results = [
                r for chunk in pool.map(lambda c: score_by_handle_sync(handle, c, timeout_s=300), chunks) for r in chunk
            ]
            elapsed = time.perf_counter() - start
        errors = sum(not r.ok for r in results)
        return len(requests) / elapsed, errors
    finally:
        serve.shutdown()
        ray.shutdown()


def run(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    requests = _requests(args.requests)
    inprocess = _inprocess_rate(args.guard, requests, args.batch)
    handle, errors = _handle_rate(args.guard, requests, args.batch)
    return {
        "guard": args.guard,
        "batch": args.batch,
        "requests": args.requests,
        "inprocess_rps": round(inprocess, 3),
        "handle_rps": round(handle, 3),
        "handle_vs_inprocess": round(handle / inprocess, 3),
        "handle_errors": errors,
        "cpus": os.cpu_count(),
    }
