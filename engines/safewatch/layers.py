"""Drive the backbone's decoder layers directly: segment-structured float masks (PEPE), reusable per-layer KV,
attention capture at one layer, and visual-token dropping after that layer (PAP).

A sequence is a list of *segments* (prefix, policy chunks, video, query branches). A token attends causally
inside its own segment and fully to every segment its row of the visibility matrix allows; nothing else.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, cast

import torch

from guardstream.engines.safewatch.families.base import Backbone

# Masked logits use the dtype's most negative finite value (not -inf) so a row never becomes NaN.
MASKED = torch.finfo(torch.float32).min


@dataclass
class LayerKV:
    """One layer's keys/values (post-RoPE), with each key's segment id and global order index."""

    k: torch.Tensor  # (B, kv_heads, S, head_dim)
    v: torch.Tensor
    seg: torch.Tensor  # (S,) long
    order: torch.Tensor  # (S,) long

    def take(self, keep: torch.Tensor) -> LayerKV:
        return LayerKV(self.k[:, :, keep], self.v[:, :, keep], self.seg[keep], self.order[keep])


@dataclass
class FlopCounter:
    """Multiply-adds ×2: linear layers exactly, attention by allowed (query, key) pairs."""

    decoder: float = 0.0
    vision: float = 0.0
    head: float = 0.0

    @property
    def total(self) -> float:
        return self.decoder + self.vision + self.head


@dataclass
class PapPlan:
    """Rank `visual` tokens at `layer` by attention from each policy's `sources`; keep `select(relevance)` after."""

    layer: int
    visual: torch.Tensor  # indices of visual tokens among the new tokens
    sources: list[torch.Tensor]  # per policy: indices (among new tokens) of the tokens whose attention counts
    select: Callable[[torch.Tensor], torch.Tensor]  # relevance (P, V) → bool keep mask (V,)
    # Fused PAP (engines/safewatch/kernels): relevance, keep mask, pruned hidden and kept-row mask from the layer's
    # queries and keys, without the eager probability capture. None → the torch path below.
    fused: Callable[..., tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]] | None = None


@dataclass
class PrefillOut:
    hidden: torch.Tensor  # (T_kept, D) last-layer hidden states before the final norm
    kept: torch.Tensor  # indices (into the new tokens) of the rows of `hidden`
    kv: list[LayerKV]
    relevance: torch.Tensor | None = None  # (P, V) PAP relevance, rows sum to 1
    visual_keep: torch.Tensor | None = None  # (V,) bool
    flops: FlopCounter = field(default_factory=FlopCounter)
    layer_ms: list[float] = field(default_factory=list)  # wall time of each decoder layer (incl. PAP selection)
    layer_flops: list[float] = field(default_factory=list)  # decoder FLOPs of each layer
    layer_tokens: list[int] = field(default_factory=list)  # new tokens (query rows) each layer computed

    def after_layer(self, layer: int) -> tuple[float, float]:
        """(ms, FLOPs) of the decoder layers that follow `layer` — the part PAP shortens."""
        return sum(self.layer_ms[layer + 1 :]), sum(self.layer_flops[layer + 1 :])


def float_mask(
    q_seg: torch.Tensor, q_order: torch.Tensor, k_seg: torch.Tensor, k_order: torch.Tensor, visible: torch.Tensor
) -> torch.Tensor:
    """(Tq, S) additive mask: 0 where a query may attend (visible segment, or same segment and not later)."""
    allowed = visible[q_seg][:, k_seg] | ((q_seg[:, None] == k_seg[None, :]) & (k_order[None, :] <= q_order[:, None]))
    return torch.zeros(allowed.shape).masked_fill(~allowed, MASKED)


@dataclass
class Block:
    """Rows (query tokens of one segment) and the only key columns they may see, with their (r, c) mask."""

    rows: torch.Tensor
    cols: torch.Tensor
    mask: torch.Tensor

    @property
    def allowed_pairs(self) -> int:
        return int((self.mask == 0).sum())


def segment_blocks(
    q_seg: torch.Tensor, q_order: torch.Tensor, k_seg: torch.Tensor, k_order: torch.Tensor, visible: torch.Tensor
) -> list[Block]:
    """Block-sparse form of `float_mask`: one block per query segment over just its visible keys, so P parallel
    chunks cost P × (shared + own) instead of (shared + P × own)²."""
    blocks = []
    for s in torch.unique(q_seg).tolist():
        rows = (q_seg == s).nonzero().flatten()
        cols = (visible[s][k_seg] | (k_seg == s)).nonzero().flatten()
        blocks.append(Block(rows, cols, float_mask(q_seg[rows], q_order[rows], k_seg[cols], k_order[cols], visible)))
    return blocks


def _block_attention(
    qg: torch.Tensor, k: torch.Tensor, v: torch.Tensor, blocks: list[Block], scaling: float, want_probs: bool
) -> tuple[torch.Tensor, torch.Tensor | None]:
    b, kv_heads, g, t, hd = qg.shape
    out = torch.zeros(b, kv_heads, g, t, hd, dtype=qg.dtype)
    mean_probs = torch.zeros(b, t, k.shape[2], dtype=qg.dtype) if want_probs else None
    for blk in blocks:
        scores = torch.einsum("bhgtd,bhsd->bhgts", qg[:, :, :, blk.rows], k[:, :, blk.cols]) * scaling + blk.mask
        probs = torch.softmax(scores, dim=-1)
        out[:, :, :, blk.rows] = torch.einsum("bhgts,bhsd->bhgtd", probs, v[:, :, blk.cols])
        if mean_probs is not None:
            mean_probs[:, blk.rows[:, None], blk.cols[None, :]] = probs.mean(dim=(1, 2))
    return out, mean_probs


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class AttentionModule(Protocol):
    """The parts of a Llama/Qwen2-style attention module the guard drives (torch types submodule attributes
    only as `Tensor | Module`)."""

    head_dim: int
    scaling: float
    q_proj: torch.nn.Module
    k_proj: torch.nn.Module
    v_proj: torch.nn.Module
    o_proj: torch.nn.Module


class DecoderLayerModule(Protocol):
    """The parts of a Llama/Qwen2-style decoder layer the guard drives."""

    self_attn: torch.nn.Module
    input_layernorm: torch.nn.Module
    post_attention_layernorm: torch.nn.Module
    mlp: torch.nn.Module


def decoder_parts(layer: torch.nn.Module) -> tuple[DecoderLayerModule, AttentionModule]:
    """`layer` and its `self_attn`, typed by the parts the guard drives (a cast: nothing is checked)."""
    parts = cast(DecoderLayerModule, layer)
    return parts, cast(AttentionModule, parts.self_attn)


def attention(
    layer: torch.nn.Module,
    x: torch.Tensor,
    cos: torch.Tensor,
    sin: torch.Tensor,
    mask: torch.Tensor | list[Block],
    past: tuple[torch.Tensor, torch.Tensor] | None,
    want_probs: bool,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Eager GQA attention of `layer.self_attn` with an explicit float mask (B or 1, 1, T, S) or mask blocks.

    Returns (output, all keys, all values, probabilities averaged over heads if asked)."""
    _, attn = decoder_parts(layer)
    b, t, _ = x.shape
    hd = attn.head_dim
    q = attn.q_proj(x).view(b, t, -1, hd).transpose(1, 2)
    k = attn.k_proj(x).view(b, t, -1, hd).transpose(1, 2)
    v = attn.v_proj(x).view(b, t, -1, hd).transpose(1, 2)
    c, s = cos.unsqueeze(1), sin.unsqueeze(1)
    q, k = q * c + _rotate_half(q) * s, k * c + _rotate_half(k) * s
    if past is not None:
        k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)
    kv_heads = k.shape[1]
    qg = q.view(b, kv_heads, -1, t, hd)  # heads grouped by the kv head they share
    if isinstance(mask, list):
        grouped, mean_probs = _block_attention(qg, k, v, mask, attn.scaling, want_probs)
        out = grouped.reshape(b, -1, t, hd).transpose(1, 2).reshape(b, t, -1)
        return attn.o_proj(out), k, v, mean_probs
    scores = torch.einsum("bhgtd,bhsd->bhgts", qg, k) * attn.scaling + mask.unsqueeze(1)
    probs = torch.softmax(scores, dim=-1)
    out = torch.einsum("bhgts,bhsd->bhgtd", probs, v).reshape(b, -1, t, hd).transpose(1, 2).reshape(b, t, -1)
    mean_probs = probs.mean(dim=(1, 2)) if want_probs else None
    return attn.o_proj(out), k, v, mean_probs


def layer_forward(
    layer: torch.nn.Module,
    h: torch.Tensor,
    cos: torch.Tensor,
    sin: torch.Tensor,
    mask: torch.Tensor | list[Block],
    past: tuple[torch.Tensor, torch.Tensor] | None,
    want_probs: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """One pre-norm decoder layer (attention + gated MLP, residuals)."""
    parts, _ = decoder_parts(layer)
    out, k, v, probs = attention(layer, parts.input_layernorm(h), cos, sin, mask, past, want_probs)
    h = h + out
    h = h + parts.mlp(parts.post_attention_layernorm(h))
    return h, k, v, probs


def linear_params(layer: torch.nn.Module) -> int:
    return sum(m.weight.numel() for m in layer.modules() if isinstance(m, torch.nn.Linear))


@torch.no_grad()
def prefill(
    backbone: Backbone,
    embeds: torch.Tensor,
    positions: torch.Tensor,
    seg: torch.Tensor,
    order: torch.Tensor,
    visible: torch.Tensor,
    past: list[LayerKV] | None = None,
    pap: PapPlan | None = None,
) -> PrefillOut:
    """Run all decoder layers over new tokens (T, D) with positions (3, T), attending to `past` per `visible`."""
    h = embeds.unsqueeze(0)
    pos = positions.unsqueeze(1)
    kept = torch.arange(embeds.shape[0])
    flops = FlopCounter()
    kv_out: list[LayerKV] = []
    relevance = keep_visual = None
    blocks: list[Block] = []
    blocks_key = (-1, -1)
    hd_heads = backbone.layers[0].self_attn.head_dim * backbone.layers[0].self_attn.config.num_attention_heads
    layer_ms: list[float] = []
    layer_flops: list[float] = []
    layer_tokens: list[int] = []
    for index, layer in enumerate(backbone.layers):
        layer_started = time.perf_counter()
        cos, sin = backbone.rotary(h, pos[:, :, kept] if pos.shape[2] != len(kept) else pos)
        layer_past = past[index] if past is not None else None
        k_seg = torch.cat([layer_past.seg, seg[kept]]) if layer_past else seg[kept]
        k_order = torch.cat([layer_past.order, order[kept]]) if layer_past else order[kept]
        shape_key = (len(kept), len(k_seg))
        if shape_key != blocks_key:  # the mask only changes when PAP drops tokens
            blocks, blocks_key = segment_blocks(seg[kept], order[kept], k_seg, k_order, visible), shape_key
        capture = pap is not None and index == pap.layer
        fused = pap.fused if capture and pap is not None else None
        h_in = h
        h, k, v, probs = layer_forward(
            layer, h, cos, sin, blocks, (layer_past.k, layer_past.v) if layer_past else None, capture and fused is None
        )
        kv_out.append(LayerKV(k, v, k_seg, k_order))
        allowed = sum(blk.allowed_pairs for blk in blocks)
        layer_flops.append(2 * len(kept) * linear_params(layer) + 4 * hd_heads * float(allowed))
        layer_tokens.append(len(kept))
        flops.decoder += layer_flops[-1]
        if fused is not None:
            offset = 0 if layer_past is None else layer_past.seg.shape[0]
            relevance, keep_visual, h, keep_rows = fused(
                layer=layer, h_in=h_in, h_out=h, cos=cos, sin=sin, k=k, q_seg=seg[kept], q_order=order[kept],
                k_seg=k_seg, k_order=k_order, visible=visible, key_offset=offset,
            )  # fmt: skip
            kept = kept[keep_rows.to(kept.device)]
        elif capture and probs is not None and pap is not None:
            offset = 0 if layer_past is None else layer_past.seg.shape[0]
            relevance = policy_relevance(probs[0], pap.sources, pap.visual + offset)
            keep_visual = pap.select(relevance)
            keep_rows = torch.ones(len(kept), dtype=torch.bool)
            keep_rows[pap.visual[~keep_visual]] = False
            h, kept = h[:, keep_rows], kept[keep_rows]
        layer_ms.append((time.perf_counter() - layer_started) * 1e3)
    return PrefillOut(h[0], kept, kv_out, relevance, keep_visual, flops, layer_ms, layer_flops, layer_tokens)


def policy_relevance(probs: torch.Tensor, sources: list[torch.Tensor], visual_cols: torch.Tensor) -> torch.Tensor:
    """(P, V): mean attention (over heads and the policy's tokens) to each visual token, each row summing to 1."""
    rows = torch.stack([probs[src][:, visual_cols].mean(dim=0) for src in sources])
    return rows / rows.sum(dim=1, keepdim=True).clamp_min(torch.finfo(rows.dtype).tiny)
