"""Guard plans as data and the cascade as plain functions: fusion, fitting, compiling, escalation, fail-closed per
policy, the verdict each guard's part ends up in, and the plan version. Guard answers here are plain data fed to
the pure functions (the real guards run in test_plan_guards.py and on Serve in test_serve.py)."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest

from guardstream.engines.base import Frames, GuardRequest, GuardResult, PolicyScore
from guardstream.engines.plan.cascade import Cascade
from guardstream.engines.plan.compile import PlanError, compile_from_pack, compile_plan
from guardstream.engines.plan.fusion import fit_fusion, fuse, with_fitted_weights
from guardstream.engines.plan.result import FusedScore, PlanResult
from guardstream.engines.serve.wire import decode_results, encode_results
from guardstream.operators.aggregate import build_verdict
from guardstream.schemas.plan import Combine, Fusion, FusionWeights, GuardPlan
from guardstream.schemas.policy import PolicyPackError, load_policy_pack, parse_policy_pack
from guardstream.schemas.verdict import Action, Verdict, VerdictStatus
from tests.conftest import make_event

PACK = load_policy_pack()
SET = PACK.policy_set("default")
REGISTERED = {"text", "visual", "explainer"}
VISUAL = ["c1.explicit", "c3.violence"]


def plan(**overrides: Any) -> GuardPlan:
    body: dict[str, Any] = {
        "id": "t",
        "policy_set": "default",
        "stages": [
            {"name": "screen", "guards": [{"guard": "text"}, {"guard": "visual", "policies": VISUAL}]},
            {"name": "explain", "run": "escalated", "unsure_band": 0.1, "guards": [{"guard": "explainer"}]},
        ],
    }  # fmt: skip
    body.update(overrides)
    return GuardPlan.model_validate(body)


def request(request_id: str = "u1") -> GuardRequest:
    frames = Frames(np.zeros((1, 8, 8, 3), np.uint8), (0.0,), (0,))
    return GuardRequest(request_id, frames, SET.policies, policy_set_version=SET.version)


class Table:
    """Guard answers as data: guard → policy → probability (default 0.05); `fail` lists guards that error."""

    def __init__(self, scores: dict[str, dict[str, float]], fail: tuple[str, ...] = ()) -> None:
        self.scores, self.fail = scores, fail
        self.asked: dict[str, list[tuple[str, tuple[str, ...]]]] = {}

    def __call__(self, guard: str, requests: list[GuardRequest]) -> list[GuardResult]:
        out = []
        for r in requests:
            self.asked.setdefault(guard, []).append((r.request_id, tuple(p.id for p in r.policies)))
            if guard in self.fail:
                out.append(GuardResult(r.request_id, error="model file unreadable"))
                continue
            got = self.scores.get(guard, {})
            out.append(GuardResult(r.request_id, tuple(PolicyScore(p.id, got.get(p.id, 0.05)) for p in r.policies)))
        return out


VERSIONS = {"text": "1.0+cal1", "visual": "v2", "explainer": "1+abc"}


def run(p: GuardPlan, table: Table, *requests: GuardRequest, enable: tuple[str, ...] = ()) -> list[PlanResult]:
    compiled = compile_plan(p, SET, enable=enable, registered=REGISTERED)
    return Cascade(compiled, VERSIONS).run(list(requests) or [request()], table)


def test_fusion_rules() -> None:
    scores = {"a": 0.2, "b": 0.5}
    assert fuse(Fusion(), scores) == 0.5
    assert fuse(Fusion(combine=Combine.NOISY_OR), scores) == pytest.approx(1 - 0.8 * 0.5)
    weighted = Fusion(combine=Combine.WEIGHTED, weights=FusionWeights(bias=-1.0, weights={"a": 2.0, "b": 0.0}))
    assert fuse(weighted, {"a": 0.5}) == pytest.approx(1 / (1 + np.e))  # σ(−1 + 2·logit 0.5)
    assert fuse(weighted, {}) == 0.0
    low, high = fuse(weighted, {"a": 0.3}), fuse(weighted, {"a": 0.9})
    assert low < high  # monotone in each guard


def test_fit_fusion_weights_the_informative_guard_and_stays_monotone() -> None:
    rng = random.Random(7)
    rows, labels = [], []
    for _ in range(300):
        label = rng.random() < 0.3
        informative = min(max(rng.gauss(0.75 if label else 0.25, 0.12), 0.01), 0.99)
        rows.append({"good": informative, "noise": rng.random(), "inverse": 1 - informative})
        labels.append(label)
    fitted = fit_fusion(rows, labels, fitted_on="synthetic:300")
    assert set(fitted.weights) <= {"good", "noise"} and fitted.weights["good"] > 1.0  # `inverse` dropped: negative
    assert all(w >= 0 for w in fitted.weights.values()) and fitted.fitted_on == "synthetic:300"
    fusion = Fusion(combine=Combine.WEIGHTED, weights=fitted)
    fused = [fuse(fusion, r) for r in rows]
    accuracy = np.mean([(p >= 0.5) == y for p, y in zip(fused, labels, strict=True)])
    assert accuracy > 0.9
    with pytest.raises(ValueError, match="both violating and benign"):
        fit_fusion(rows[:3], [True] * 3)
    as_visual = FusionWeights(bias=fitted.bias, weights={"visual": fitted.weights["good"]}, fitted_on="synthetic")
    refitted = with_fitted_weights(plan(), {"c1.explicit": as_visual})
    assert refitted.fusion_for("c1.explicit").weights == as_visual and refitted.fusion_for("c4.scam") == Fusion()
    assert refitted.version != plan().version


def test_compile_expands_wildcards_drops_disabled_and_checks_the_registry() -> None:
    p = plan(stages=[
        {"name": "screen", "guards": [{"guard": "text"}]},
        {"name": "explain", "run": "escalated", "guards": [{"guard": "explainer", "enabled": False}]},
    ])  # fmt: skip
    compiled = compile_plan(p, SET, registered=REGISTERED)
    assert compiled.guards == ("text",) and compiled.stages[0].members[0].policy_ids == SET.policy_ids
    assert compile_plan(p, SET, enable=["explainer"], registered=REGISTERED).guards == ("text", "explainer")
    with pytest.raises(PlanError, match=r"guards.enable names \['nope'\]"):
        compile_plan(p, SET, enable=["nope"])
    with pytest.raises(PlanError, match=r"stages\[0\].guards\[0\].guard: 'text' is not a registered guard"):
        compile_plan(p, SET, registered={"explainer"})
    with pytest.raises(PlanError, match="unknown plan 'missing'"):
        compile_from_pack(PACK, "missing")


def _pack_with(plan_body: dict[str, Any]) -> dict[str, Any]:
    data = PACK.model_dump(mode="json", exclude={"plans"})
    for policy_set in data["policy_sets"]:
        policy_set.pop("version")
    data["plans"] = [plan_body]
    return data


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda b: b["stages"][0]["guards"][1].update(policies=["c9"]), r"plans.0..stages.0..guards.1..policies"),
        (lambda b: b["stages"][0]["guards"].pop(0), r"plans\[0\].stages: \['c1.minors'"),
        (lambda b: b.update(policy_set="other"), r"plans\[0\].policy_set 'other' names no policy set"),
        (lambda b: b.update(fusion={"combine": "weighted"}), r"plans.0.fusion: .*weights: required"),
        (lambda b: b["stages"][0].update(run="escalated"), "first stage must run 'always'"),
        (lambda b: b["stages"][1]["guards"].append({"guard": "text"}), "only one stage"),
        (lambda b: b.update(policy_fusion={"c1.explicit": {"combine": "weighted", "weights": {"weights": {"zz": 1}}}}),
         r"policy_fusion.c1.explicit.weights names guards not in the plan: \['zz'\]"),
    ],
)  # fmt: skip
def test_pack_validation_names_the_field(edit: Any, message: str) -> None:
    body = plan().model_dump(mode="json", exclude={"version"})
    edit(body)
    with pytest.raises(PolicyPackError, match=message):
        parse_policy_pack(_pack_with(body))


def test_default_pack_plan_is_valid_and_explainer_is_off() -> None:
    default = compile_from_pack(PACK, "default")
    assert "safewatch" not in default.guards and default.guards == ("text", "visual")
    visual = default.stages[0].members[1]
    assert visual.policy_ids == ("c1.explicit", "c1.suggestive", "c3.violence")
    assert "safewatch" in compile_from_pack(PACK, "default", enable=["safewatch"]).guards


def test_cheap_stage_runs_everything_and_escalation_sends_only_flagged_or_unsure_policies() -> None:
    table = Table({"text": {"c4.scam": 0.9, "c3.threats": 0.33}, "visual": {"c1.explicit": 0.2}})
    benign = Table({})
    [result] = run(plan(), table)
    review = {p.id: p.thresholds.review for p in SET.policies}
    assert review["c3.threats"] - 0.1 <= 0.33 < review["c3.threats"]  # unsure: inside the band below review
    assert table.asked["text"] == [("u1", SET.policy_ids)]
    assert table.asked["visual"] == [("u1", ("c1.explicit", "c3.violence"))]
    assert table.asked["explainer"] == [("u1", ("c3.threats", "c4.scam"))]
    [quiet] = run(plan(), benign, request("u2"))
    assert "explainer" not in benign.asked and [c.guard for c in quiet.guards_run] == ["text", "visual"]
    explicit = next(s for s in result.scores if s.policy_id == "c1.explicit")
    assert isinstance(explicit, FusedScore) and explicit.guard_scores == (("text", 0.05), ("visual", 0.2))
    assert explicit.probability == 0.2  # max


def test_a_member_that_fuses_experts_itself_keeps_each_experts_part() -> None:
    def experts(guard: str, requests: list[GuardRequest]) -> list[GuardResult]:
        def one(policy_id: str) -> PolicyScore:
            if guard != "visual":
                return PolicyScore(policy_id, 0.05)
            return FusedScore(policy_id, 0.3, guard_scores=(("visual.nsfw", 0.3), ("visual.open-nsfw", 0.1)))

        return [GuardResult(r.request_id, tuple(one(p.id) for p in r.policies)) for r in requests]

    [result] = run(plan(), experts)
    explicit = next(s for s in result.scores if s.policy_id == "c1.explicit")
    assert isinstance(explicit, FusedScore) and explicit.probability == 0.3  # fused over members, not experts
    assert explicit.guard_scores == (("text", 0.05), ("visual", 0.3), ("visual.nsfw", 0.3), ("visual.open-nsfw", 0.1))


def test_merge_fuse_keeps_the_alarm_and_override_lets_the_verifier_clear_it() -> None:
    table = Table({"text": {"c4.scam": 0.9}, "explainer": {"c4.scam": 0.1}})
    fused = {s.policy_id: s for s in run(plan(), table)[0].scores}
    assert fused["c4.scam"].probability == 0.9
    stages = plan().model_dump(mode="json")["stages"]
    stages[1]["merge"] = "override"
    overridden = {s.policy_id: s for s in run(plan(stages=stages), Table(table.scores))[0].scores}
    assert overridden["c4.scam"].probability == 0.1
    assert dict(overridden["c4.scam"].guard_scores) == {"text": 0.9, "explainer": 0.1}  # both parts recorded


def test_a_failing_guard_fails_closed_for_its_policies_only_and_the_verdict_names_it() -> None:
    table = Table({"text": {"c4.scam": 0.2}}, fail=("visual",))
    [result] = run(plan(), table)
    assert result.ok and result.policy_errors.keys() == {"c1.explicit", "c3.violence"}
    verdict = build_verdict(event=make_event(1), policy_set=SET, guard_name="x", guard_version="x", result=result)
    assert verdict.status is VerdictStatus.ERROR and verdict.action is Action.HOLD
    assert "guard visual failed: model file unreadable" in (verdict.error or "")
    by_id = {r.policy_id: r for r in verdict.results}
    assert by_id["c1.explicit"].error and "visual" in by_id["c1.explicit"].error
    assert by_id["c4.scam"].error is None and by_id["c4.scam"].probability == 0.2  # the others stand
    assert [(g.guard, g.error is not None) for g in verdict.guards_run] == [("text", False), ("visual", True)]
    assert verdict.guard_name == "plan:t" and verdict.guard_version == result.plan_version
    assert Verdict.model_validate_json(verdict.model_dump_json()) == verdict


def test_verdict_records_each_guards_part_and_passes_the_wire() -> None:
    table = Table({"text": {"c4.scam": 0.95}, "explainer": {"c4.scam": 0.7}})
    [result] = run(plan(), table)
    [back] = decode_results(encode_results([result]))
    assert back == result
    verdict = build_verdict(event=make_event(2), policy_set=SET, guard_name="x", guard_version="x", result=back)
    scam = next(r for r in verdict.results if r.policy_id == "c4.scam")
    assert verdict.status is VerdictStatus.OK and verdict.action is Action.BLOCK
    assert [(g.guard, g.probability) for g in scam.guard_scores] == [("text", 0.95), ("explainer", 0.7)]
    assert [(g.guard, g.stage) for g in verdict.guards_run] == [("text", 0), ("visual", 0), ("explainer", 1)]


def test_plan_version_covers_content_members_and_member_versions() -> None:
    base = compile_plan(plan(), SET, registered=REGISTERED)
    v = base.version(VERSIONS)
    assert v.startswith("sha256:") and v == compile_plan(plan(), SET).version(dict(VERSIONS))
    assert base.version({**VERSIONS, "visual": "v3"}) != v
    assert compile_plan(plan(description="edited"), SET).version(VERSIONS) != v
    stages = plan().model_dump(mode="json")["stages"]
    stages[1]["guards"][0]["enabled"] = False
    assert compile_plan(plan(stages=stages), SET).version(VERSIONS) != v
    with pytest.raises(PlanError, match="no resolved version"):
        base.version({"text": "1"})


def test_a_guard_answering_out_of_order_or_raising_fails_closed() -> None:
    def shuffled(guard: str, requests: list[GuardRequest]) -> list[GuardResult]:
        if guard == "text":
            return [GuardResult(r.request_id, tuple(PolicyScore(p.id, 0.1) for p in r.policies)) for r in requests][
                ::-1
            ]
        raise ConnectionError("replica died")

    results = run(plan(), shuffled, request("a"), request("b"))
    assert all(not r.ok and not r.scores for r in results)  # every policy failed closed: the whole upload
    assert "guard text failed: answered out of order" in (results[0].error or "")
    assert [c.error for c in results[0].guards_run if c.guard == "visual"] == ["ConnectionError: replica died"]
