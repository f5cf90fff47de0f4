"""Where a backfill pass runs. `inprocess`: Beam's FnApiRunner on this machine's cores (the listing split into
one shard per worker thread). `beam-dask`: the same Beam graph on Beam's Dask runner against a dask.distributed
cluster (a local one on loopback unless GUARDSTREAM_BACKFILL_DASK_SCHEDULER names one) — see engine_dask.py."""

from __future__ import annotations

from collections.abc import Callable

from guardstream.pipeline.backfill.job import BackfillJob


def run_inprocess(job: BackfillJob, workers: int) -> None:
    job.run_inprocess(workers)


def run_beam_dask(job: BackfillJob, workers: int) -> None:
    from guardstream.pipeline.backfill.engine_dask import run_on_dask

    run_on_dask(job, workers)


ENGINES: dict[str, Callable[[BackfillJob, int], None]] = {"inprocess": run_inprocess, "beam-dask": run_beam_dask}
