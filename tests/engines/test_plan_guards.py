"""A plan run in-process over real guards: the text guard (real weights) screens, the SafeWatch-style guard (tiny
random checkpoint, real transformers model) explains. Escalation follows the text guard's real scores; a guard
that refuses a request fails closed for its own policies only."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from guardstream.engines.base import Frames, GuardRequest, TextEvidence, create_guard, score_fail_closed
from guardstream.engines.plan.compile import compile_plan
from guardstream.engines.plan.local import PlanGuard
from guardstream.engines.plan.result import FusedScore, PlanResult
from guardstream.engines.safewatch.make_checkpoint import make_checkpoint
from guardstream.engines.text.labelled_set import render_frame
from guardstream.operators.aggregate import build_verdict
from guardstream.schemas.plan import GuardPlan
from guardstream.schemas.policy import load_policy_pack
from guardstream.schemas.verdict import Action, VerdictStatus
from tests.conftest import make_event

pytestmark = pytest.mark.slow  # loads the real text guard (OCR + MiniLM) and a tiny VLM twice

SET = load_policy_pack().policy_set("default")
BAND = 0.15


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_checkpoint(tmp_path_factory.mktemp("sw") / "tiny", "tiny")


def _plan(stages: list[dict[str, object]]) -> GuardPlan:
    return GuardPlan.model_validate({"id": "cascade", "policy_set": "default", "stages": stages})


@pytest.fixture(scope="module")
def cascade(checkpoint: Path) -> PlanGuard:
    plan = _plan([
        {"name": "screen", "guards": [{"guard": "text"}]},
        {"name": "explain", "run": "escalated", "unsure_band": BAND, "guards": [{"guard": "safewatch"}]},
    ])  # fmt: skip
    guard = PlanGuard(compile_plan(plan, SET), {"text": create_guard("text"), "safewatch": create_guard(
        "safewatch", checkpoint=checkpoint)})  # fmt: skip
    guard.load()
    return guard


def _upload(request_id: str, phrase: str, n_frames: int = 2) -> GuardRequest:
    still = render_frame(phrase, random.Random(0))
    frames = Frames(np.stack([still] * n_frames), tuple(float(i) for i in range(n_frames)), tuple(range(n_frames)))
    return GuardRequest(request_id, frames, SET.policies, TextEvidence(title=phrase), SET.version)


def test_explainer_runs_only_for_the_policies_the_text_guard_flags_or_is_unsure_about(cascade: PlanGuard) -> None:
    uploads = [_upload("scam", "Send 1 BTC and get 2 BTC back today"), _upload("beach", "Sunset at the beach")]
    results = score_fail_closed(cascade, uploads)
    assert all(isinstance(r, PlanResult) and r.ok for r in results)
    for result in results:
        assert isinstance(result, PlanResult)
        text = {s.policy_id: dict(s.guard_scores)["text"] for s in result.scores if isinstance(s, FusedScore)}
        expected = tuple(p.id for p in SET.policies if text[p.id] >= p.thresholds.review - BAND)
        explained = [c.policy_ids for c in result.guards_run if c.guard == "safewatch"]
        assert explained == ([expected] if expected else [])
        for score in result.scores:
            assert isinstance(score, FusedScore)
            assert score.probability == pytest.approx(max(p for _, p in score.guard_scores))  # max fusion
            assert (len(score.guard_scores) == 2) == (score.policy_id in expected)
    scam = {s.policy_id: s for s in results[0].scores}
    assert scam["c4.scam"].probability >= SET.policy("c4.scam").thresholds.review  # the real text guard flags it
    assert [c.guard for c in results[0].guards_run] == ["text", "safewatch"]
    assert cascade.version == results[0].plan_version and cascade.version.startswith("sha256:")


def test_a_guard_that_refuses_fails_closed_for_its_policies_only(checkpoint: Path) -> None:
    asked = ("c4.scam", "c3.threats")
    plan = _plan([{"name": "screen", "guards": [{"guard": "safewatch"}, {"guard": "text", "policies": list(asked)}]}])
    guard = PlanGuard(compile_plan(plan, SET), {
        "safewatch": create_guard("safewatch", checkpoint=checkpoint),
        "text": create_guard("text", max_frames_per_request=2),  # this upload has 4 frames: text refuses it
    })  # fmt: skip
    guard.load()
    [result] = score_fail_closed(guard, [_upload("four", "I will find you and hurt you", n_frames=4)])
    assert isinstance(result, PlanResult) and set(result.policy_errors) == set(asked)
    verdict = build_verdict(event=make_event(3), policy_set=SET, guard_name="unused", guard_version="unused",
                            result=result)  # fmt: skip
    assert verdict.status is VerdictStatus.ERROR and verdict.action is Action.HOLD
    assert "guard text failed: invalid request: 4 frames > limit 2" in (verdict.error or "")
    scored = [r for r in verdict.results if r.error is None]
    assert {r.policy_id for r in scored} == set(SET.policy_ids) - set(asked)
    assert all([g.guard for g in r.guard_scores] == ["safewatch"] for r in scored)
    assert verdict.guard_name == "plan:cascade" and verdict.guard_version == guard.version
