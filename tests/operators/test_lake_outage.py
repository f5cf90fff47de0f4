"""Lake writes ride out what a running job meets: commit conflicts are re-run (bounded), and an object store that
is restarting (kill -9 of SeaweedFS under an S3 warehouse) is waited for instead of failing the job's bundle."""

from __future__ import annotations

import os
import threading
from typing import Any

import pytest
from pyiceberg.exceptions import CommitFailedException

from guardstream.operators.lake import LakeWriteError, retry_commit
from guardstream.pipeline.settings import LakeSettings
from guardstream.pipeline.stack import LocalStack, kill_group
from guardstream.pipeline.stack_state import StackState
from tests.conftest import make_verdict


def _failing(errors: list[BaseException], result: str = "done") -> Any:
    def op() -> str:
        if errors:
            raise errors.pop(0)
        return result

    return op


def test_conflicts_are_re_run_and_counted() -> None:
    op = _failing([CommitFailedException("stale"), CommitFailedException("stale")])
    assert retry_commit(op, LakeSettings(commit_retries=3)) == ("done", 3)


def test_too_many_conflicts_fail_with_the_count() -> None:
    op = _failing([CommitFailedException("stale")] * 3)
    with pytest.raises(LakeWriteError, match="after 3 attempts"):
        retry_commit(op, LakeSettings(commit_retries=3))


def test_an_unreachable_store_is_retried_then_fails_past_its_budget() -> None:
    assert retry_commit(_failing([OSError("connection refused")]), LakeSettings())[1] == 2
    endless = _failing([OSError("connection refused")] * 1000)
    with pytest.raises(LakeWriteError, match="store unreachable"):
        retry_commit(endless, LakeSettings(outage_retry_s=0.3))


def test_other_errors_are_not_retried() -> None:
    op = _failing([ValueError("bad frame")])
    with pytest.raises(ValueError, match="bad frame"):
        retry_commit(op, LakeSettings())


@pytest.mark.kafka  # the session stack (its SeaweedFS holds the warehouse)
def test_a_write_waits_out_a_killed_object_store(local_stack: LocalStack) -> None:
    lake = local_stack.open_lake()
    lake.ensure_tables()
    assert local_stack.warehouse.startswith("s3://")
    verdict = make_verdict(0, upload_id=f"outage-{os.getpid()}-{threading.get_native_id()}")
    store = StackState.load(local_stack.home).components["objectstore"]
    kill_group(store.pid)
    done: dict[str, Any] = {}
    writer = threading.Thread(target=lambda: done.update(result=lake.write_verdicts([verdict])), daemon=True)
    writer.start()  # its first try meets the dead store
    assert local_stack.up()["healthy"]  # the store restarted (same port, same data)
    writer.join(timeout=180)
    assert not writer.is_alive() and "result" in done, "the write did not finish once the store was back"
    assert done["result"].rows_inserted == 1 and done["result"].attempts > 1
    keys = lake.verdicts().scan(selected_fields=("idempotency_key",)).to_arrow().column(0).to_pylist()
    assert keys.count(verdict.idempotency_key) == 1
