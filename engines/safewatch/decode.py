"""Batched greedy decoding of independent branches over precomputed per-layer KV.

A branch is (an upload's prefill KV, the segments it may see, where its positions continue). Branches of
different uploads and policies decode together: their visible keys are gathered, right-padded to one length
and masked, so each branch computes exactly what a standalone sequential decode would.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from guardstream.engines.safewatch.families.base import Backbone
from guardstream.engines.safewatch.layers import MASKED, FlopCounter, LayerKV, layer_forward, linear_params


@dataclass
class Branch:
    kv: list[LayerKV]
    visible_segs: list[int]
    start_position: int
    first_logits: torch.Tensor | None = None  # set when the prompt is already in the KV (decode from here)


@dataclass
class Generated:
    tokens: list[list[int]]
    prompt_tokens: int
    new_tokens: int
    flops: FlopCounter


def _gather(branches: list[Branch], layer: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Padded visible keys/values (B, kv_heads, S, d) and the validity of each key column (B, S)."""
    picked = []
    for branch in branches:
        kv = branch.kv[layer]
        sel = torch.isin(kv.seg, torch.tensor(branch.visible_segs))
        picked.append((kv.k[0][:, sel], kv.v[0][:, sel]))
    longest = max(k.shape[1] for k, _ in picked)
    pad = [longest - k.shape[1] for k, _ in picked]
    ks = torch.stack([torch.nn.functional.pad(k, (0, 0, 0, p)) for (k, _), p in zip(picked, pad, strict=True)])
    vs = torch.stack([torch.nn.functional.pad(v, (0, 0, 0, p)) for (_, v), p in zip(picked, pad, strict=True)])
    valid = torch.stack([torch.arange(longest) < longest - p for p in pad])
    return ks, vs, valid


@torch.no_grad()
def greedy(
    backbone: Backbone, branches: list[Branch], prompt_ids: list[int], max_new_tokens: int, min_new_tokens: int = 0
) -> Generated:
    """Feed `prompt_ids` to every branch (or start from `first_logits`), then decode greedily until every branch
    has emitted EOS (and at least `min_new_tokens` steps ran) or `max_new_tokens` is reached."""
    n_layers = len(backbone.layers)
    caches = [_gather(branches, i) for i in range(n_layers)]
    valid = [c[2] for c in caches]  # per layer: PAP leaves later layers fewer visual keys
    past = [(k, v) for k, v, _ in caches]
    flops = FlopCounter()
    b = len(branches)
    fed = 0
    out: list[list[int]] = [[] for _ in range(b)]
    done = torch.zeros(b, dtype=torch.bool)
    if prompt_ids:
        logits = _step(backbone, torch.tensor([prompt_ids] * b), branches, past, valid, fed, flops)
        fed += len(prompt_ids)
    else:
        logits = torch.stack([br.first_logits for br in branches if br.first_logits is not None])
    for step in range(max_new_tokens):
        nxt = logits.argmax(dim=-1)
        for i in range(b):
            if not done[i]:
                out[i].append(int(nxt[i]))
        done |= nxt == backbone.eos_token_id
        if (bool(done.all()) and step + 1 >= min_new_tokens) or step + 1 == max_new_tokens:
            break
        logits = _step(backbone, nxt.view(b, 1), branches, past, valid, fed, flops)
        fed += 1
    return Generated(out, len(prompt_ids) * b, sum(len(o) for o in out), flops)


def _step(
    backbone: Backbone,
    ids: torch.Tensor,
    branches: list[Branch],
    past: list[tuple[torch.Tensor, torch.Tensor]],
    valid: list[torch.Tensor],
    fed: int,
    flops: FlopCounter,
) -> torch.Tensor:
    b, n = ids.shape
    starts = torch.tensor([br.start_position for br in branches]).view(b, 1)
    pos = (starts + fed + torch.arange(n).view(1, n)).unsqueeze(0).expand(3, -1, -1)
    new_cols = torch.ones(n, fed + n, dtype=torch.bool).tril(diagonal=fed).unsqueeze(0).expand(b, -1, -1)
    h = backbone.embed(ids)
    cos, sin = backbone.rotary(h, pos)
    attn0 = backbone.layers[0].self_attn
    heads_dim = attn0.head_dim * attn0.config.num_attention_heads
    for i, layer in enumerate(backbone.layers):
        allowed = torch.cat([valid[i].unsqueeze(1).expand(-1, n, -1), new_cols], dim=2)
        mask = torch.zeros(allowed.shape).masked_fill(~allowed, MASKED).unsqueeze(1)
        h, k, v, _ = layer_forward(layer, h, cos, sin, mask, past[i])
        past[i] = (k, v)
        flops.decoder += 2 * b * n * linear_params(layer) + 4 * heads_dim * float(allowed.sum())
    flops.head += 2 * b * backbone.lm_head.weight.numel()
    logits: torch.Tensor = backbone.lm_head(backbone.norm(h[:, -1]))
    return logits
