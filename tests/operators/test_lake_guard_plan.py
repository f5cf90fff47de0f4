"""Verdicts written before guard plans existed (no `guards_run`, no per-policy `guard_scores` / `error`) stay
readable after the lake evolves the table, beside new verdicts that carry each guard's part."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from guardstream.operators.lake import Lake
from guardstream.operators.lake_settings import LakeSettings
from guardstream.schemas.arrow import EVIDENCE_ARROW, VERDICT_ARROW
from guardstream.schemas.verdict import Verdict
from tests.conftest import make_verdict

OLD_RESULT = pa.struct(
    [
        pa.field("policy_id", pa.string(), nullable=False),
        pa.field("probability", pa.float64(), nullable=False),
        pa.field("violated", pa.bool_(), nullable=False),
        pa.field("severity", pa.string(), nullable=False),
        pa.field("explanation", pa.string()),
        pa.field("evidence", EVIDENCE_ARROW, nullable=False),
    ]
)


def _old_schema() -> pa.Schema:
    fields = [f for f in VERDICT_ARROW if f.name != "guards_run"]
    return pa.schema([pa.field("results", pa.list_(OLD_RESULT), nullable=False) if f.name == "results" else f
                      for f in fields])  # fmt: skip


def test_old_verdict_rows_read_back_after_the_table_gains_plan_columns(tmp_path: Path) -> None:
    lake = Lake.open(LakeSettings(), uri=f"sqlite:///{tmp_path / 'catalog.db'}", warehouse=(tmp_path / "wh").as_uri())
    lake.catalog.create_namespace("moderation")
    old_schema = _old_schema()
    table = lake.catalog.create_table(lake.verdicts_id, schema=old_schema)
    old = make_verdict(1, guards_run=())
    old = old.model_copy(update={"results": tuple(r.model_copy(update={"guard_scores": ()}) for r in old.results)})
    row = old.model_dump(mode="python", exclude={"guards_run"})
    row["results"] = [{k: v for k, v in r.items() if k not in ("guard_scores", "error")} for r in row["results"]]
    table.append(pa.Table.from_pylist([row], schema=old_schema))

    lake.ensure_tables()  # evolves the table written by the older release
    new = make_verdict(2)
    assert new.guards_run and new.results[0].guard_scores
    lake.write_verdicts([new])
    back = lake.committed_verdicts([old.idempotency_key, new.idempotency_key])
    assert back[old.idempotency_key] == old and back[old.idempotency_key].guards_run == ()
    assert back[new.idempotency_key] == new
    assert Verdict.model_validate(back[new.idempotency_key].model_dump()).results[0].guard_scores[0].guard == "text"
