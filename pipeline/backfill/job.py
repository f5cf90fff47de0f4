"""`BackfillJob`: the streaming job's graph (`StreamJob.expand`) over a `BackfillSource`, writing to the lake
(verdicts stamped with the run id, mode `backfill`, shadow or not) and — only with `--publish` — to the topics.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from apache_beam.utils.shared import Shared

from guardstream.operators.envelope import Outcome
from guardstream.operators.kafka_sink import KafkaWriter
from guardstream.operators.lake_settings import LakeSettings
from guardstream.operators.lake_sink import LakeWriter
from guardstream.operators.sinks import OutcomeWriter, UploadSource
from guardstream.pipeline.backfill.source import BackfillSource, PassSpec
from guardstream.pipeline.streaming import StreamJob
from guardstream.schemas.verdict import RunMode, Verdict


def stamp(verdict: Verdict, run_id: str, shadow: bool) -> Verdict:
    """The verdict as this run records it (none of these fields is part of the idempotency key)."""
    return Verdict.model_validate({**verdict.model_dump(), "mode": RunMode.BACKFILL, "run_id": run_id,
                                   "shadow": shadow})  # fmt: skip


class BackfillLakeWriter(LakeWriter):
    """The lake sink, with each verdict stamped with the run that decided it before the upsert."""

    def __init__(self, settings: LakeSettings, uri: str, warehouse: str, run_id: str, shadow: bool) -> None:
        super().__init__(settings, uri, warehouse)
        self.run_id, self.shadow = run_id, shadow

    def write_batch(self, outcomes: list[Outcome]) -> list[Outcome]:
        stamped = [replace(o, verdict=stamp(o.verdict, self.run_id, self.shadow)) if o.verdict else o for o in outcomes]
        return super().write_batch(stamped)


@dataclass(frozen=True)
class BackfillJob(StreamJob):
    """One pass of a backfill run: the stream's operators, a listing source, the lake (+ topics if publishing)."""

    spec: PassSpec
    publish: bool = False

    @property
    def shadow(self) -> bool:
        return self.spec.pass_name == "shadow"

    def source(self, progress: Shared) -> UploadSource:
        return BackfillSource(self.spec, self.sinks())

    def sinks(self) -> list[OutcomeWriter]:
        e = self.endpoints
        lake = BackfillLakeWriter(self.settings.lake, e.catalog_uri, e.warehouse, self.spec.ledger.run_id, self.shadow)
        publish = self.publish and not self.shadow  # shadow verdicts are recorded, never published or enforced
        return [lake, KafkaWriter(self.sink_config())] if publish else [lake]

    def run_inprocess(self, workers: int) -> None:
        """FnApiRunner on this machine's cores: one thread per worker, the listing split into `workers` shards."""
        args = [f"--direct_num_workers={workers}", "--direct_running_mode=multi_threading"] if workers > 1 else []
        self.run(runner="FnApiRunner", extra_args=args)
