"""The fault campaign on the real stack (bounded: two faults, 12 uploads each): a broker kill -9 and a job
kill -9 mid-stream lose and duplicate nothing — every produced upload id ends as exactly one verdict or dead
letter in the lake. The whole campaign (`guardstream chaos run`) is measured in docs/operations.md."""

from __future__ import annotations

import pytest

from guardstream.pipeline.chaos import Campaign
from guardstream.pipeline.chaos.campaign import StreamPlan
from guardstream.pipeline.stack import LocalStack

# A campaign (about 4 minutes alone, timing-sensitive on a loaded machine): `make test-all` or
# `pytest -m campaign`; the default run covers kill -9 of the job (test_streaming) and of the broker and store
# (tests/pipeline/test_durable_broker.py).
pytestmark = [pytest.mark.e2e, pytest.mark.kafka, pytest.mark.ray, pytest.mark.slow, pytest.mark.campaign]


def test_broker_and_job_kills_lose_and_duplicate_nothing(local_stack: LocalStack) -> None:
    plan = StreamPlan(uploads=12, interval_s=0.4, inject_after=4, decide_timeout_s=240)
    with Campaign(local_stack.settings, plan, seed=23) as campaign:
        reports = [campaign.run_fault(name) for name in ("kill_broker", "kill_streaming_job")]
    for report in reports:
        assert report.uploads >= 12
        assert (report.name, report.lost, report.duplicated) == (report.name, 0, 0), report
        assert report.recovered_s is not None, report
    assert reports[1].job_restarts >= 1, "the killed job was restarted"
