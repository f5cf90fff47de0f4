"""The lake sink (`WriteLake` in the job): verdicts upserted on the idempotency key, dead letters upserted on
their id — then passed on.

An `OutcomeWriter` (operators/sinks.py): outcomes are buffered per bundle and written in `finish_bundle`; only
then are they emitted downstream, so what follows (the Kafka publish, the offset commit) sees only durable
outcomes. Each emitted verdict is the
one the lake holds for its key: a replay re-publishes the committed verdict, never a new one.
"""

from __future__ import annotations

from dataclasses import replace

from guardstream.operators.envelope import Outcome
from guardstream.operators.lake import Lake
from guardstream.operators.lake_settings import LakeSettings
from guardstream.operators.sinks import OutcomeWriter


class LakeWriter(OutcomeWriter):
    """Outcomes into the Iceberg lake's `verdicts` and `dead_letters` tables."""

    name = "lake"

    def __init__(self, settings: LakeSettings, uri: str, warehouse: str) -> None:
        self.settings, self.uri, self.warehouse = settings, uri, warehouse

    def open(self) -> None:
        self.lake = Lake.open(self.settings, uri=self.uri, warehouse=self.warehouse)
        self.lake.ensure_tables()

    def write_batch(self, outcomes: list[Outcome]) -> list[Outcome]:
        return write_outcomes(self.lake, outcomes)


def write_outcomes(lake: Lake, outcomes: list[Outcome]) -> list[Outcome]:
    """Write a batch durably; return the outcomes with each verdict replaced by the lake's committed one.

    When every verdict was new, what was written is what is committed; only a batch holding replays (some keys
    were already in the lake) reads the committed verdicts back.
    """
    verdicts = [o.verdict for o in outcomes if o.verdict is not None]
    written = lake.write_verdicts(verdicts)
    lake.write_dead_letters([o.dead_letter for o in outcomes if o.dead_letter is not None])
    keys = {v.idempotency_key for v in verdicts}
    if written.rows_inserted == len(keys) == len(verdicts):
        return outcomes
    committed = lake.committed_verdicts(sorted(keys))
    return [replace(o, verdict=committed[o.verdict.idempotency_key]) if o.verdict else o for o in outcomes]
