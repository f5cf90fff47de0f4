"""Policy-aware visual-token pruning (PAP): choose which visual tokens survive past the ranking layer.

Relevance comes from `runner.policy_relevance` (per policy, mean attention from that policy's tokens to each
visual token, normalised so each policy's row sums to 1 — long and short policies weigh the same). Selection:
every policy keeps its top-k tokens with one shared k, the smallest k whose union reaches the budget
ceil(keep_ratio · V). Ties rank the earlier token first. keep_ratio 1.0 keeps everything.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Selection:
    keep: torch.Tensor  # (V,) bool: the union that survives
    per_policy: torch.Tensor  # (P, V) bool: each policy's own top-k
    k: int


def ranks(relevance: torch.Tensor) -> torch.Tensor:
    """(P, V) rank of each token within each policy: 0 = most relevant; ties broken by token index."""
    order = torch.sort(relevance, dim=1, descending=True, stable=True).indices
    rank = torch.empty_like(order)
    rank.scatter_(1, order, torch.arange(relevance.shape[1]).expand_as(order).contiguous())
    return rank


def select(relevance: torch.Tensor, keep_ratio: float) -> Selection:
    """Union of per-policy top-k with the smallest k whose union holds at least ceil(keep_ratio · V) tokens."""
    _n_policies, n_visual = relevance.shape
    rank = ranks(relevance)
    if keep_ratio >= 1.0 or n_visual == 0:
        return Selection(torch.ones(n_visual, dtype=torch.bool), torch.ones_like(rank, dtype=torch.bool), n_visual)
    budget = max(1, math.ceil(keep_ratio * n_visual))
    best = rank.min(dim=0).values  # a token is in the union of top-k iff its best rank < k
    k = int(torch.sort(best).values[budget - 1]) + 1
    return Selection(best < k, rank < k, k)
