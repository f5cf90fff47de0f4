"""The backfill on the stack's Ray cluster with Ray Data: one task per shard, each running the same Beam graph
(`BackfillJob`, FnApiRunner) over its shard inside a Ray worker, next to the guard deployments it calls. The
tasks acknowledge into the same ledger (a shared folder at scale), so kill -9 and --resume work unchanged.

Why not Beam's Dask runner: measured here (Beam 2.77, dask 2026.8), it puts every output of a multi-output
ParDo into one bag — a dead letter reached the lake sink where outcomes were expected — and computes only the
last transform's bag, so the other sink branches never run. The stream graph has six branches; docs/operations.md.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from guardstream.pipeline.backfill.job import BackfillJob


def run_shard(row: dict[str, Any]) -> dict[str, Any]:
    """Ray Data task: the in-process graph over one shard."""
    job: BackfillJob = row["job"]
    shard = int(row["shard"])
    replace(job, spec=replace(job.spec, only_shards=(shard,))).run_inprocess(1)
    return {"shard": shard}


def run_on_ray(job: BackfillJob, workers: int, num_cpus: float = 0.5) -> None:
    """One Ray Data task per shard (`workers` shards), on the cluster the guard app runs on."""
    import ray

    from guardstream.engines.serve.deploy import connect_ray

    connect_ray(job.endpoints.ray_address, dict(job.endpoints.ray_auth_env))
    rows = [{"job": job, "shard": s} for s in range(job.spec.shards)]
    done = ray.data.from_items(rows).map(run_shard, num_cpus=num_cpus, concurrency=workers).take_all()
    if sorted(r["shard"] for r in done) != list(range(job.spec.shards)):
        raise RuntimeError(f"ray engine finished {len(done)} of {job.spec.shards} shards")
