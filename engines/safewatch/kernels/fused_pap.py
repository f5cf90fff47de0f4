"""PAP at the pruning layer from queries and keys: the fused Triton path and the torch reference on the same inputs.

`PapInputs` is what both need: the pruning layer's post-RoPE queries of every policy's source rows and all its keys,
the segment structure that defines the mask, and which keys are visual. `reference_prune` materialises the
(heads × sources × keys) softmax the way the runner does and applies `policy_relevance` + `pap.select`;
`fused_prune` gets the same relevance, kept set and gathered rows from the Triton kernels without materialising it.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from types import ModuleType

import torch

from guardstream.engines.safewatch import pap
from guardstream.engines.safewatch.layers import float_mask, policy_relevance

FLOAT_BYTES = 4


@dataclass(frozen=True)
class Tiles:
    """Block sizes of the kernels. GPU: small tiles (registers, occupancy). Triton's CPU interpreter pays per
    block-op, not per element, so it runs the same kernels with large tiles."""

    rows: int = 16
    keys: int = 64
    visual: int = 64
    rank: int = 128
    gather_rows: int = 32
    width: int = 128

    @classmethod
    def for_device(cls, device: torch.device) -> Tiles:
        return cls() if device.type == "cuda" else cls(64, 1024, 512, 2048, 256, 512)


@dataclass(frozen=True)
class PapInputs:
    q: torch.Tensor  # (heads, sources, head_dim) float32, policies' rows contiguous
    k: torch.Tensor  # (kv_heads, keys, head_dim) float32
    src_seg: torch.Tensor  # (sources,) segment of each source row
    src_order: torch.Tensor  # (sources,) global order of each source row
    key_seg: torch.Tensor  # (keys,)
    key_order: torch.Tensor  # (keys,)
    visible: torch.Tensor  # (segments, segments) bool: row segment sees column segment
    offsets: torch.Tensor  # (policies + 1,) CSR offsets of each policy's source rows
    visual_cols: torch.Tensor  # (visual,) key index of each visual token
    scale: float

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """(policies, visual tokens, heads, source rows)."""
        return len(self.offsets) - 1, len(self.visual_cols), self.q.shape[0], self.q.shape[1]

    def bytes_avoided(self) -> int:
        """Bytes of the (heads × sources × visual) fp32 probabilities the fused path never writes, net of the
        per-(head, source) softmax statistics and the (policies × visual) relevance and ranks it does write."""
        policies, visual, heads, sources = self.shape
        written = 2 * heads * sources + 2 * policies * visual + visual
        return (heads * sources * visual - written) * FLOAT_BYTES


@dataclass(frozen=True)
class Pruned:
    relevance: torch.Tensor  # (P, V) rows sum to 1
    keep: torch.Tensor  # (V,) bool
    per_policy: torch.Tensor  # (P, V) bool
    k: int
    hidden: torch.Tensor  # (T_kept, D) rows of `hidden` that survive (non-visual rows always do)
    keep_rows: torch.Tensor  # (T,) bool


def keep_rows_for(n_rows: int, visual_rows: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    rows = torch.ones(n_rows, dtype=torch.bool, device=keep.device)
    rows[visual_rows[~keep]] = False
    return rows


def reference_prune(inputs: PapInputs, keep_ratio: float, hidden: torch.Tensor, visual_rows: torch.Tensor) -> Pruned:
    """The torch path: full softmax per head, mean over heads, `policy_relevance`, `pap.select`, index."""
    heads, kv_heads = inputs.q.shape[0], inputs.k.shape[0]
    keys = inputs.k.repeat_interleave(heads // kv_heads, dim=0)
    mask = float_mask(inputs.src_seg, inputs.src_order, inputs.key_seg, inputs.key_order, inputs.visible)
    scores = torch.einsum("hsd,hnd->hsn", inputs.q, keys) * inputs.scale + mask.to(inputs.q.device)
    probs = torch.softmax(scores, dim=-1).mean(dim=0)
    offsets = inputs.offsets.tolist()
    sources = [torch.arange(lo, hi) for lo, hi in itertools.pairwise(offsets)]
    relevance = policy_relevance(probs, sources, inputs.visual_cols)
    selection = pap.select(relevance.cpu(), keep_ratio)
    keep = selection.keep.to(hidden.device)
    rows = keep_rows_for(hidden.shape[0], visual_rows, keep)
    return Pruned(relevance, keep, selection.per_policy, selection.k, hidden[rows], rows)


def fused_prune(
    inputs: PapInputs, keep_ratio: float, hidden: torch.Tensor, visual_rows: torch.Tensor, tiles: Tiles | None = None
) -> Pruned:
    """The same result from the Triton kernels (CUDA tensors, or CPU tensors under TRITON_INTERPRET=1)."""
    from guardstream.engines.safewatch.kernels import pap_triton as kernels

    tiles = tiles or Tiles.for_device(inputs.q.device)
    relevance = _relevance(kernels, inputs, tiles)
    policies, visual = relevance.shape
    rank = torch.empty(policies, visual, dtype=torch.int32, device=relevance.device)
    best = torch.empty(visual, dtype=torch.int32, device=relevance.device)
    grid = (_cdiv(visual, tiles.visual),)
    kernels.rank_kernel[grid](relevance, rank, best, policies, visual, BV=tiles.visual, BU=tiles.rank)
    k = shared_k(best, keep_ratio)
    keep = best < k
    rows = keep_rows_for(hidden.shape[0], visual_rows, keep)
    return Pruned(relevance, keep, rank < k, k, _gather(kernels, hidden, rows, tiles), rows)


def shared_k(best_rank: torch.Tensor, keep_ratio: float) -> int:
    """Smallest k whose union of per-policy top-k holds ceil(keep_ratio · V): from a histogram of best ranks (the
    same number as sorting them and taking the budget-th)."""
    visual = best_rank.shape[0]
    if keep_ratio >= 1.0 or visual == 0:
        return visual
    budget = max(1, math.ceil(keep_ratio * visual))
    counts = torch.bincount(best_rank.long(), minlength=visual).cumsum(0)
    return int(torch.searchsorted(counts, torch.tensor(budget, device=counts.device))) + 1


def _relevance(kernels: ModuleType, inputs: PapInputs, tiles: Tiles) -> torch.Tensor:
    policies, visual, heads, sources = inputs.shape
    kv_heads, n_keys, head_dim = inputs.k.shape
    device = inputs.q.device
    i32 = [
        t.to(device=device, dtype=torch.int32).contiguous()
        for t in (inputs.src_seg, inputs.src_order, inputs.key_seg, inputs.key_order, inputs.offsets)
    ]
    src_seg, src_ord, key_seg, key_ord, offsets = i32
    vis = inputs.visible.to(device=device, dtype=torch.int8).contiguous()
    cols = inputs.visual_cols.to(device=device, dtype=torch.int32).contiguous()
    q, k = inputs.q.float().contiguous(), inputs.k.float().contiguous()
    tile_d = max(16, 1 << (head_dim - 1).bit_length())
    stats = torch.empty(2, heads, sources, dtype=torch.float32, device=device)
    common = (src_seg, src_ord, key_seg, key_ord, vis)
    kernels.softmax_stats_kernel[(heads, _cdiv(sources, tiles.rows))](
        q, k, *common, stats[0], stats[1], sources, n_keys, head_dim, heads // kv_heads, vis.shape[0], inputs.scale,
        BS=tiles.rows, BN=tiles.keys, BD=tile_d,
    )  # fmt: skip
    relevance = torch.empty(policies, visual, dtype=torch.float32, device=device)
    kernels.relevance_kernel[(policies, _cdiv(visual, tiles.visual))](
        q, k, stats[0], stats[1], offsets, cols, *common, relevance,
        sources, n_keys, visual, heads, head_dim, heads // kv_heads, vis.shape[0], inputs.scale,
        BS=tiles.rows, BV=tiles.visual, BD=tile_d,
    )  # fmt: skip
    tiny = torch.finfo(torch.float32).tiny
    kernels.normalise_kernel[(policies,)](relevance, visual, tiny, BV=4 * tiles.visual)
    return relevance


def _gather(kernels: ModuleType, hidden: torch.Tensor, rows: torch.Tensor, tiles: Tiles) -> torch.Tensor:
    hidden = hidden.contiguous()
    n_rows, width = hidden.shape
    dest = (torch.cumsum(rows.to(torch.int32), 0) - 1).to(torch.int32)
    out = torch.empty(int(rows.sum()), width, dtype=hidden.dtype, device=hidden.device)
    kernels.gather_rows_kernel[(_cdiv(n_rows, tiles.gather_rows),)](
        hidden, rows.to(torch.int8), dest, out, n_rows, width, BR=tiles.gather_rows, BW=tiles.width
    )
    return out


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)
