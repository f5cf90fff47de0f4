"""A guard that scores nothing: probability 0 for every policy asked, no model, no I/O. It exists only so the
load test can measure the pipeline's own ceiling (Kafka, Beam, fetch + decode, Serve round trip, lake) apart
from a real guard's cost. It lives in `load_tests`, is registered through the `guardstream.guards` entry
point, and must never be configured for real traffic: it allows everything."""

from __future__ import annotations

from collections.abc import Sequence

from guardstream.engines.base import Guard, GuardRequest, GuardResult, PolicyScore


class NoopGuard(Guard):
    name = "noop"
    version = "noop-1"

    def load(self) -> None:
        """Nothing to load."""

    def score_batch(self, requests: Sequence[GuardRequest]) -> list[GuardResult]:
        return [GuardResult(r.request_id, scores=tuple(PolicyScore(p.id, 0.0) for p in r.policies)) for r in requests]
