"""The conformance suite every guard passes. Subclass `GuardConformance` in a test module (name the subclass
`Test…`) and implement `make_guard` (a loaded guard) and, optionally, `make_frames`; pytest collects the
inherited tests. Checks: output shape, determinism, request order kept, exactly the policies asked, and
fail-closed behaviour (bad input and internal errors become per-request error results, never an allow).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np
import pytest

from guardstream.engines.base import Frames, Guard, GuardRequest, GuardResult, TextEvidence, score_fail_closed
from guardstream.schemas.policy import Policy, load_policy_pack

PROBABILITY_TOLERANCE = 1e-6


class PoisonGuard(Guard):
    """Delegates to a real guard but raises inside `score_batch` for requests whose id starts with 'poison'."""

    name = "poison"

    def __init__(self, inner: Guard) -> None:
        self.inner = inner

    def load(self) -> None:
        """The inner guard is already loaded."""

    def batch_limits(self):  # type: ignore[no-untyped-def]
        return self.inner.batch_limits()

    def score_batch(self, requests: Sequence[GuardRequest]) -> list[GuardResult]:
        if any(r.request_id.startswith("poison") for r in requests):
            raise RuntimeError("injected failure")
        return self.inner.score_batch(requests)


class GuardConformance:
    """Inherit and provide `make_guard`; every test below then runs against that guard."""

    policy_ids: ClassVar[tuple[str, ...]] = ("c4.scam", "c3.threats", "c6.hate", "c3.self_harm")

    @classmethod
    def make_guard(cls) -> Guard:
        raise NotImplementedError

    def make_frames(self, seed: int) -> Frames:
        rng = np.random.default_rng(seed)
        pixels = rng.integers(0, 255, size=(2, 64, 64, 3), dtype=np.uint8)
        return Frames(pixels, (0.0, 1.0), (0, 30))

    @pytest.fixture(scope="class")
    def guard(self) -> Guard:
        guard = self.make_guard()
        yield guard
        guard.close()

    @pytest.fixture(scope="class")
    def policies(self, guard: Guard) -> tuple[Policy, ...]:
        """`policy_ids`, or the policies the guard declares it scores (`Guard.scored_policies`)."""
        policy_set = load_policy_pack().policy_set("default")
        return tuple(policy_set.policy(p) for p in guard.scored_policies() or self.policy_ids)

    def request(self, request_id: str, policies: Sequence[Policy], seed: int = 0, title: str = "") -> GuardRequest:
        return GuardRequest(request_id, self.make_frames(seed), tuple(policies), TextEvidence(title=title))

    def batch(self, policies: Sequence[Policy]) -> list[GuardRequest]:
        titles = ("a cooking video", "send your card number to claim the prize", "")
        return [self.request(f"r{i}", policies, seed=i, title=t) for i, t in enumerate(titles)]

    def test_output_shape(self, guard: Guard, policies: tuple[Policy, ...]) -> None:
        requests = self.batch(policies)
        results = score_fail_closed(guard, requests)
        assert [r.request_id for r in results] == [r.request_id for r in requests]
        for result in results:
            assert result.ok, result.error
            assert [s.policy_id for s in result.scores] == [p.id for p in policies]
            assert all(0.0 <= s.probability <= 1.0 for s in result.scores)

    def test_deterministic(self, guard: Guard, policies: tuple[Policy, ...]) -> None:
        first = score_fail_closed(guard, self.batch(policies))
        second = score_fail_closed(guard, self.batch(policies))
        for a, b in zip(first, second, strict=True):
            pa, pb = [s.probability for s in a.scores], [s.probability for s in b.scores]
            assert np.allclose(pa, pb, atol=PROBABILITY_TOLERANCE, rtol=0)

    def test_request_order_kept(self, guard: Guard, policies: tuple[Policy, ...]) -> None:
        requests = self.batch(policies)
        forward = score_fail_closed(guard, requests)
        backward = score_fail_closed(guard, requests[::-1])
        assert [r.request_id for r in backward] == [r.request_id for r in requests[::-1]]
        for a, b in zip(forward, backward[::-1], strict=True):
            assert np.allclose([s.probability for s in a.scores], [s.probability for s in b.scores], atol=1e-6)

    def test_exactly_the_policies_asked(self, guard: Guard, policies: tuple[Policy, ...]) -> None:
        subset = (policies[2], policies[0])
        result = score_fail_closed(guard, [self.request("r", subset)])[0]
        assert result.ok and [s.policy_id for s in result.scores] == [p.id for p in subset]

    def test_bad_input_fails_closed_alone(self, guard: Guard, policies: tuple[Policy, ...]) -> None:
        good = self.request("good", policies)
        no_policies = GuardRequest("no-policies", self.make_frames(1), ())
        empty = GuardRequest("empty", Frames(np.zeros((0, 8, 8, 3), np.uint8), (), ()), tuple(policies))
        floats = GuardRequest("floats", Frames(np.full((1, 8, 8, 3), np.nan), (0.0,), (0,)), tuple(policies))
        limit = guard.batch_limits().max_frames_per_request + 1
        many = GuardRequest(
            "many", Frames(np.zeros((limit, 8, 8, 3), np.uint8), (0.0,) * limit, (0,) * limit), policies
        )
        results = score_fail_closed(guard, [no_policies, good, empty, floats, many])
        assert [r.ok for r in results] == [False, True, False, False, False]
        assert all("invalid request" in (r.error or "") for i, r in enumerate(results) if i != 1)

    def test_internal_error_fails_closed_alone(self, guard: Guard, policies: tuple[Policy, ...]) -> None:
        requests = [
            self.request("before", policies),
            self.request("poison-1", policies),
            self.request("after", policies),
        ]
        results = score_fail_closed(PoisonGuard(guard), requests)
        assert [r.ok for r in results] == [True, False, True]
        assert "injected failure" in (results[1].error or "") and not results[1].scores

    def test_refuses_policies_it_has_no_signal_for(self, guard: Guard, policies: tuple[Policy, ...]) -> None:
        scored = guard.scored_policies()
        if scored is None:
            pytest.skip("this guard scores any policy")
        other = next(p for p in load_policy_pack().policy_set("default").policies if p.id not in scored)
        requests = [self.request("refused", (policies[0], other)), self.request("ok", policies)]
        results = score_fail_closed(guard, requests)
        assert not results[0].ok and not results[0].scores and other.id in (results[0].error or "")
        assert results[1].ok

    def test_health(self, guard: Guard) -> None:
        guard.check_health()
