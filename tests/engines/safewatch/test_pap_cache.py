"""Policy-chunk KV cache (policy-first) and policy-aware visual-token pruning."""

from __future__ import annotations

import math

import pytest
import torch

from guardstream.engines.safewatch import pap
from guardstream.engines.safewatch.cache import policy_key
from guardstream.engines.safewatch.config import Layout
from guardstream.engines.safewatch.layers import MASKED, float_mask
from tests.engines.safewatch.conftest import make_engine, policies, request


def test_cached_policy_kv_scores_equal_recomputing(backbones) -> None:
    engine = make_engine(backbones, layout=Layout.POLICY_FIRST)
    first = engine.score(request(seed=1))
    assert engine.chunk_cache.misses == 5 and engine.chunk_cache.hits == 0  # system + 4 chunks
    second_upload = engine.score(request(seed=2, rid="u2"))
    assert engine.chunk_cache.hits == 5  # reused across uploads
    recomputed = engine.score(request(seed=2, rid="u2"), use_cache=False)
    assert (second_upload.log_odds - recomputed.log_odds).abs().max() <= 1e-5
    assert second_upload.tokens["computed_tokens"] < recomputed.tokens["computed_tokens"]
    assert first.tokens["prefill_tokens"] == recomputed.tokens["prefill_tokens"]


def test_cache_key_is_policy_set_and_model_version(backbones) -> None:
    engine = make_engine(backbones, layout=Layout.POLICY_FIRST)
    pol = policies(1)[0]
    engine.score(request((pol,), version="set-v1"))
    engine.score(request((pol,), version="set-v2"))
    assert engine.chunk_cache.misses == 3  # system once, the policy once per set version
    assert (pol.id, "set-v1", engine.backbone.model_version) in engine.chunk_cache._entries
    assert policy_key(pol, "", "m")[1].startswith("content:")


def _brute_force_selection(attn: torch.Tensor, sources: list[list[int]], visual: list[int], ratio: float) -> set[int]:
    """Relevance and top-k union by plain loops over the attention tensor transformers returns."""
    heads = attn.shape[0]
    rel = []
    for src in sources:
        row = [sum(float(attn[h, t, v]) for h in range(heads) for t in src) / (heads * len(src)) for v in visual]
        total = sum(row)
        rel.append([r / total for r in row])
    budget = math.ceil(ratio * len(visual))
    ranked = [sorted(range(len(visual)), key=lambda j, r=r: (-r[j], j)) for r in rel]
    for k in range(1, len(visual) + 1):
        union = set().union(*(set(order[:k]) for order in ranked))
        if len(union) >= budget:
            return union
    return set(range(len(visual)))


@pytest.mark.parametrize("ratio", [0.25, 0.5])
def test_pap_selection_equals_brute_force(backbones, ratio: float) -> None:
    engine = make_engine(backbones, pap_keep_ratio=ratio, pap_layer=1)
    bb = engine.backbone
    scored = engine.score(request(n_frames=8))
    plan = scored.plan
    segs = list(range(len(plan.segments)))
    ids, pos, seg = plan.flat(segs)
    order = torch.arange(len(ids))
    mask = float_mask(seg, order, seg, order, plan.visible())
    video_embeds = bb.encode_video(scored.video.patches, scored.video.grid_thw)
    with torch.no_grad():
        out = bb.model.model.language_model(
            inputs_embeds=engine._embed(ids, video_embeds).unsqueeze(0),
            position_ids=pos.unsqueeze(1),
            attention_mask=mask[None, None],
            output_attentions=True,
        )
    attn = out.attentions[1][0]
    visual = (torch.tensor(ids) == bb.video_token_id).nonzero().flatten().tolist()
    sources = [(seg == c).nonzero().flatten().tolist() for c in plan.of_kind("chunk")]
    expected = _brute_force_selection(attn, sources, visual, ratio)
    assert set(scored.selection.keep.nonzero().flatten().tolist()) == expected
    assert scored.tokens["visual_tokens_kept"] == len(expected) < len(visual)
    assert MASKED < 0


def test_keep_ratio_one_reproduces_unpruned_scores(backbones) -> None:
    for layout in Layout:
        full = make_engine(backbones, layout=layout, pap_keep_ratio=1.0, pap_layer=1)
        plain = make_engine(backbones, layout=layout, pap_keep_ratio=1.0, pap_layer=1)
        plain._pap_plan = lambda *args: None  # type: ignore[method-assign]  # no relevance capture at all
        a, b = full.score(request()), plain.score(request())
        assert torch.equal(a.log_odds, b.log_odds)
        assert a.tokens["visual_tokens_kept"] == a.tokens["visual_tokens"]
        pruned = make_engine(backbones, layout=layout, pap_keep_ratio=0.25, pap_layer=1).score(request())
        assert pruned.tokens["visual_tokens_kept"] < a.tokens["visual_tokens"]
        assert not torch.equal(pruned.log_odds, a.log_odds)


def test_select_ties_and_budget() -> None:
    relevance = torch.tensor([[0.4, 0.4, 0.1, 0.1], [0.1, 0.1, 0.1, 0.7]])
    chosen = pap.select(relevance, 0.5)
    assert chosen.k == 1 and chosen.keep.tolist() == [True, False, False, True]
    assert pap.select(relevance, 1.0).keep.all()
