"""Iceberg lake: idempotent verdict upserts, concurrent writers, invalid verdicts refused before commit."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import pytest
from pydantic import ValidationError

from guardstream.operators.lake import Lake
from guardstream.pipeline.settings import LakeSettings
from guardstream.schemas import DeadLetter, Verdict
from tests.conftest import make_verdict


def open_lake(root: Path) -> Lake:
    lake = Lake.open(LakeSettings(), uri=f"sqlite:///{root / 'catalog.db'}", warehouse=(root / "wh").as_uri())
    lake.ensure_tables()
    return lake


def _keys(lake: Lake) -> list[str]:
    return lake.verdicts().scan(selected_fields=("idempotency_key",)).to_arrow().column(0).to_pylist()


def test_same_thousand_verdicts_twice_is_a_thousand_rows(tmp_path: Path) -> None:
    lake = open_lake(tmp_path)
    verdicts = [make_verdict(i) for i in range(1000)]
    assert lake.write_verdicts(verdicts).rows_inserted == 1000
    assert lake.write_verdicts(verdicts).rows_inserted == 0
    keys = _keys(lake)
    assert len(keys) == 1000 == len(set(keys))


def test_replay_never_changes_a_committed_verdict(tmp_path: Path) -> None:
    lake = open_lake(tmp_path)
    lake.write_verdicts([make_verdict(1, action="block")])
    lake.write_verdicts([make_verdict(1, action="allow", results=())])
    rows = lake.verdicts().scan().to_arrow().to_pylist()
    assert [r["action"] for r in rows] == ["block"]
    assert Verdict.model_validate(rows[0]) == make_verdict(1, action="block")


def test_table_is_partitioned_by_day(tmp_path: Path) -> None:
    spec = open_lake(tmp_path).verdicts().spec()
    assert [(f.name, str(f.transform)) for f in spec.fields] == [("produced_at_day", "day")]


def test_invalid_verdict_is_refused_before_commit(tmp_path: Path) -> None:
    lake = open_lake(tmp_path)
    good = make_verdict(1)
    bad = Verdict.model_construct(**{**dict(good), "status": "error", "action": "allow", "error": "boom"})
    with pytest.raises(ValidationError, match="fail closed"):
        lake.write_verdicts([good, bad])
    assert lake.verdicts().scan().to_arrow().num_rows == 0
    assert lake.verdicts().current_snapshot() is None


def _writer(root: str, start: int, stop: int, barrier: mp.synchronize.Barrier) -> None:
    lake = open_lake(Path(root))
    barrier.wait()
    for chunk in range(start, stop, 50):
        lake.write_verdicts([make_verdict(i) for i in range(chunk, min(chunk + 50, stop))])


def test_two_processes_writing_concurrently_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    open_lake(tmp_path)
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(2)
    # Overlapping ranges: 0-299 and 200-499 → 500 distinct verdicts, 100 written by both.
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), a, b, barrier)) for a, b in ((0, 300), (200, 500))]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=240)
        assert p.exitcode == 0
    keys = _keys(open_lake(tmp_path))
    assert len(keys) == 500 == len(set(keys))


def test_dead_letters_are_idempotent_per_record_and_stage(tmp_path: Path) -> None:
    from tests.schemas.test_contracts import make_dead_letter

    lake = open_lake(tmp_path)
    letter: DeadLetter = make_dead_letter()
    lake.write_dead_letters([letter, letter])
    lake.write_dead_letters([letter])  # the same record re-read after a crash
    other_stage = DeadLetter.model_validate({**letter.model_dump(exclude={"dead_letter_id"}), "stage": "validate"})
    lake.write_dead_letters([other_stage])
    rows = lake.dead_letters().scan().to_arrow().to_pylist()
    assert sorted(r["stage"] for r in rows) == ["parse", "validate"]
    assert DeadLetter.model_validate(next(r for r in rows if r["stage"] == "parse")) == letter


def test_first_verdict_of_a_key_in_one_batch_is_the_committed_one(tmp_path: Path) -> None:
    from guardstream.operators.envelope import Envelope, Outcome
    from guardstream.operators.lake_sink import write_outcomes

    lake = open_lake(tmp_path)
    first = Outcome(Envelope(payload=b"{}"), verdict=make_verdict(4, action="block"))
    again = Outcome(Envelope(payload=b"{}"), verdict=make_verdict(4, action="allow", results=()))
    stored = write_outcomes(lake, [first, again])
    assert [o.verdict for o in stored] == [first.verdict, first.verdict]
    assert [r["action"] for r in lake.verdicts().scan().to_arrow().to_pylist()] == ["block"]


def test_duckdb_query_of_the_lake_as_in_the_runbook(tmp_path: Path) -> None:
    lake = open_lake(tmp_path)
    lake.write_verdicts([make_verdict(i, action="block" if i % 3 else "allow") for i in range(9)])
    query = """
        SELECT action, count(*) AS uploads, max(r.probability) AS top_probability
        FROM verdicts, unnest(results) AS t(r)
        GROUP BY action ORDER BY action
    """
    rows = lake.duckdb().execute(query).fetchall()
    assert rows == [("allow", 3, 0.93), ("block", 6, 0.93)]


def test_sink_publishes_the_committed_verdict_on_replay(tmp_path: Path) -> None:
    from guardstream.operators.envelope import Envelope, Outcome
    from guardstream.operators.lake_sink import write_outcomes

    lake = open_lake(tmp_path)
    first = Outcome(Envelope(payload=b"{}"), verdict=make_verdict(1, action="block"))
    fresh = Outcome(Envelope(payload=b"{}"), verdict=make_verdict(2, action="allow", results=()))
    assert write_outcomes(lake, [first]) == [first]
    replay = Outcome(Envelope(payload=b"{}"), verdict=make_verdict(1, action="allow", results=()))
    stored = write_outcomes(lake, [replay, fresh])
    assert [o.verdict.action.value for o in stored if o.verdict] == ["block", "allow"]
    assert stored[0].verdict == first.verdict and stored[1] == fresh


def test_tables_from_an_older_release_are_evolved_in_place(tmp_path: Path) -> None:
    import pyarrow as pa

    from guardstream.schemas.arrow import DEAD_LETTER_ARROW
    from tests.schemas.test_contracts import make_dead_letter

    lake = Lake.open(LakeSettings(), uri=f"sqlite:///{tmp_path / 'catalog.db'}", warehouse=(tmp_path / "wh").as_uri())
    lake.catalog.create_namespace("moderation")
    old = pa.schema([f for f in DEAD_LETTER_ARROW if not f.name.startswith(("payload_", "dead_letter_id"))])
    lake.catalog.create_table(lake.dead_letters_id, schema=old)
    lake.ensure_tables()
    letter = make_dead_letter()
    lake.write_dead_letters([letter, letter])
    rows = lake.dead_letters().scan().to_arrow().to_pylist()
    assert len(rows) == 1 and DeadLetter.model_validate(rows[0]) == letter
    assert lake.dead_letters().properties["commit.retry.num-retries"] == "0"
