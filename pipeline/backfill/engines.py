"""Where a backfill pass runs. `inprocess`: Beam's FnApiRunner on this machine's cores (the listing split into
one shard per worker thread). `ray`: Ray Data on the stack's Ray cluster, one task per shard, each running the
same Beam graph (engine_ray.py says why not Beam's Dask runner)."""

from __future__ import annotations

from collections.abc import Callable

from guardstream.pipeline.backfill.job import BackfillJob


def run_inprocess(job: BackfillJob, workers: int) -> None:
    job.run_inprocess(workers)


def run_ray(job: BackfillJob, workers: int) -> None:
    from guardstream.pipeline.backfill.engine_ray import run_on_ray

    run_on_ray(job, workers)


ENGINES: dict[str, Callable[[BackfillJob, int], None]] = {"inprocess": run_inprocess, "ray": run_ray}
