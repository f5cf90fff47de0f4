"""Explain-on-flag, the generate-everything baseline, and the guard behind the common interface."""

from __future__ import annotations

import torch

from guardstream.engines.base import create_guard, score_fail_closed
from guardstream.engines.safewatch.config import Layout, Mode
from guardstream.engines.safewatch.guard import SafeWatchGuard, baseline_result, parse_baseline
from guardstream.schemas.policy import Thresholds
from tests.engines.safewatch.conftest import make_engine, policies, request


def _thresholded() -> tuple:  # type: ignore[type-arg]
    """Alternate policies that are always past review (0.0) and never (1.0)."""
    out = []
    for i, policy in enumerate(policies(4)):
        review = 0.0 if i % 2 == 0 else 1.0
        out.append(policy.model_copy(update={"thresholds": Thresholds(review=review, auto_action=1.0)}))
    return tuple(out)


def _count_explain_calls(guard: SafeWatchGuard, calls: list[int]) -> None:
    original = guard.engine.explain

    def counted(items):  # type: ignore[no-untyped-def]
        calls.append(len(items))
        return original(items)

    guard.engine.explain = counted


def test_explanations_only_for_flagged_policies(tiny_checkpoints) -> None:
    for layout in Layout:
        guard = SafeWatchGuard(
            checkpoint=tiny_checkpoints["qwen2_5_vl"],
            layout=layout,
            pap_keep_ratio=0.5,
            pap_layer=1,
            explain_max_new_tokens=6,
        )
        guard.load()
        calls: list[int] = []
        _count_explain_calls(guard, calls)
        results = score_fail_closed(guard, [request(_thresholded(), rid="a"), request(_thresholded(), rid="b", seed=3)])
        assert calls == [4]  # one batch across both uploads, only the flagged policies
        for result in results:
            assert result.ok
            for i, score in enumerate(result.scores):
                flagged = i % 2 == 0
                assert (score.explanation is not None) == flagged
                assert bool(score.evidence.frame_indices) == flagged
                if flagged:
                    assert set(score.evidence.frame_indices) <= {0, 15, 30, 45}


def test_batched_explanations_equal_explaining_alone(backbones) -> None:
    engine = make_engine(backbones, layout=Layout.PAPER, explain_max_new_tokens=8)
    a = engine.score(request(policies(3), seed=4))
    b = engine.score(request(policies(2), seed=5, n_frames=6))
    together, gen = engine.explain([(a, 0), (b, 1), (a, 2)])
    alone = [engine.explain([item])[0][0] for item in [(a, 0), (b, 1), (a, 2)]]
    assert together == alone
    assert gen is not None and gen.new_tokens <= 3 * 8


def test_generate_everything_decodes_for_every_upload(backbones) -> None:
    engine = make_engine(backbones)
    texts, gen, flops, prompt_tokens = engine.generate_everything([request(), request(seed=2)], 8, min_new_tokens=8)
    assert len(texts) == 2 and gen.new_tokens == 16 and flops.decoder > 0 and prompt_tokens > 0


def test_baseline_output_parsing_fails_closed() -> None:
    req = request(policies(2))
    ids = [p.id for p in req.policies]
    text = f'A person cooks. {{"{ids[0]}": true, "{ids[1]}": false}} The knife is used as a threat at 0:03.'
    description, labels, _ = parse_baseline(text)
    assert description == "A person cooks." and labels == {ids[0]: True, ids[1]: False}
    result = baseline_result(req, text)
    assert [s.probability for s in result.scores] == [1.0, 0.0] and result.scores[0].explanation
    assert not baseline_result(req, "no json here").ok


def test_registry_and_baseline_mode_guard(tiny_checkpoints) -> None:
    guard = create_guard(
        "safewatch", checkpoint=tiny_checkpoints["qwen2_vl"], mode=Mode.GENERATE_EVERYTHING, baseline_max_new_tokens=4
    )
    guard.load()
    guard.check_health()
    results = score_fail_closed(guard, [request()])
    assert len(results) == 1 and not results[0].ok  # random weights emit no guardrail JSON → fail closed
    one = create_guard("safewatch", checkpoint=tiny_checkpoints["qwen2_vl"])
    one.load()
    one.warmup()
    scores = score_fail_closed(one, [request()])[0].scores
    assert (
        all(0.0 <= s.probability <= 1.0 for s in scores)
        and torch.isfinite(torch.tensor([s.probability for s in scores])).all()
    )


def test_guard_version_names_the_weights_and_the_scoring_settings(tiny_checkpoints) -> None:
    checkpoint = tiny_checkpoints["qwen2_5_vl"]
    versions = []
    for keep in (1.0, 1.0, 0.5):
        guard = SafeWatchGuard(checkpoint=checkpoint, pap_keep_ratio=keep)
        guard.load()
        versions.append(guard.version)
    assert versions[0] == versions[1] != versions[2]
    assert guard.model_version in versions[0]
