"""Fit the stance model (engines/text/model.py) on a labelled manifest's feature matrix. Pure numpy.

1. Standardise the features. 2. Out-of-fold (k folds over `groups`, so a contrasting pair never straddles a
split): a class-balanced, L2-regularised logistic stance head (harmful vs not) and one topic head per policy
(the policy's harmful and hard-benign items vs the rest). 3. Per policy, a plain logistic fusion of the two
out-of-fold logits. 4. Per policy, the operating point: the out-of-fold threshold with the best F-beta, moved
onto the pack's review threshold (the `offset`). 5. Refit both heads on everything. The pooled head (for other
packs' policies) is the same fit over every policy's four clause features stacked.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from guardstream.engines.text.model import Fusion, Linear, PolicyHead, StanceModel
from guardstream.engines.text.stance import PolicyClauses

FOLDS = 5


@dataclass(frozen=True)
class FitData:
    """Features (n, d); harmful (n,) 0/1; topic and labels (n, policies) 0/1; groups (n,) strings."""

    features: np.ndarray
    harmful: np.ndarray
    topic: np.ndarray
    labels: np.ndarray
    groups: Sequence[str]
    policy_features: np.ndarray  # (n, policies, POLICY_FEATURES)


def logistic(x: np.ndarray, y: np.ndarray, l2: float, balanced: bool = True, steps: int = 60) -> Linear:
    """L2-regularised logistic regression by Newton's method (bias unregularised)."""
    xb = np.hstack([x, np.ones((len(x), 1))])
    pos, neg = max(1.0, float(y.sum())), max(1.0, float(len(y) - y.sum()))
    weight = np.where(y > 0, len(y) / (2 * pos), len(y) / (2 * neg)) if balanced else np.ones(len(y))
    reg = np.eye(xb.shape[1]) * l2
    reg[-1, -1] = 0.0
    theta = np.zeros(xb.shape[1])
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-np.clip(xb @ theta, -30, 30)))
        grad = xb.T @ (weight * (p - y)) + reg @ theta
        hess = (xb * (weight * p * (1 - p))[:, None]).T @ xb + reg + 1e-6 * np.eye(len(theta))
        step = np.linalg.solve(hess, grad)
        theta -= step
        if float(np.abs(step).max()) < 1e-7:
            break
    return Linear(tuple(float(t) for t in theta[:-1]), float(theta[-1]))


def fold_of(groups: Sequence[str], folds: int = FOLDS, seed: int = 0) -> np.ndarray:
    names = sorted(set(groups))
    order = np.random.default_rng(seed).permutation(len(names))
    assign = {name: int(order[i]) % folds for i, name in enumerate(names)}
    return np.array([assign[g] for g in groups])


def best_threshold(logits: np.ndarray, labels: np.ndarray, beta: float) -> float:
    """The logit threshold with the highest F-beta (ties: the higher threshold)."""
    best_score, best_t = -1.0, float(logits.max()) + 1.0
    for t in np.unique(logits):
        flagged = logits >= t
        tp = float((flagged & (labels > 0)).sum())
        fp = float((flagged & (labels == 0)).sum())
        fn = float((~flagged & (labels > 0)).sum())
        score = (1 + beta**2) * tp / ((1 + beta**2) * tp + beta**2 * fn + fp) if tp else 0.0
        if score >= best_score:
            best_score, best_t = score, float(t)
    return best_t


def _fusion(z_s: np.ndarray, z_t: np.ndarray, y: np.ndarray, review: float, beta: float) -> Fusion:
    f = logistic(np.stack([z_s, z_t, np.minimum(z_s, z_t)], axis=1), y, l2=1e-2, balanced=False)
    stance, topic, both = f.weights  # three features in, three weights out
    fused = Fusion(stance, topic, both, f.bias).logit(z_s, z_t)
    offset = best_threshold(fused, y, beta) - math.log(review / (1 - review)) if y.any() else 0.0
    return Fusion(stance, topic, both, f.bias, offset=float(offset))


def _standardise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return x.mean(axis=0), x.std(axis=0) + 1e-6


def out_of_fold(data: FitData, x: np.ndarray, l2: float) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold stance logits (n,) and topic logits (n, policies)."""
    folds = fold_of(data.groups)
    z_s, z_t = np.zeros(len(x)), np.zeros(data.topic.shape)
    for k in range(FOLDS):
        train, test = folds != k, folds == k
        z_s[test] = logistic(x[train], data.harmful[train], l2).apply(x[test])
        for j in range(data.topic.shape[1]):
            z_t[test, j] = logistic(x[train], data.topic[train, j], l2).apply(x[test])
    return z_s, z_t


def fit_stance_model(
    data: FitData, clauses: Sequence[PolicyClauses], reviews: Sequence[float], *, l2: float = 10.0,
    beta: float = 1.0, embedders: tuple[str, ...] = ("minilm",), meta: dict[str, object] | None = None,
) -> StanceModel:  # fmt: skip
    mean, scale = _standardise(data.features)
    x = (data.features - mean) / scale
    z_s, z_t = out_of_fold(data, x, l2)
    stance = logistic(x, data.harmful, l2)
    heads = {}
    for j, c in enumerate(clauses):
        fusion = _fusion(z_s, z_t[:, j], data.labels[:, j], reviews[j], beta)
        heads[c.policy_id] = PolicyHead(c, logistic(x, data.topic[:, j], l2), fusion)
    pooled = data.policy_features.reshape(-1, data.policy_features.shape[2])
    p_mean, p_scale = _standardise(pooled)
    pooled_topic = logistic((pooled - p_mean) / p_scale, data.topic.reshape(-1), l2=1.0)
    pooled_zt = pooled_topic.apply((pooled - p_mean) / p_scale)
    pooled_review = float(np.median(reviews))
    pooled_fusion = _fusion(np.repeat(z_s, len(clauses)), pooled_zt, data.labels.reshape(-1), pooled_review, beta)
    return StanceModel(
        mean=tuple(float(v) for v in mean), scale=tuple(float(v) for v in scale), stance=stance, heads=heads,
        pooled_topic=pooled_topic, pooled_mean=tuple(float(v) for v in p_mean),
        pooled_scale=tuple(float(v) for v in p_scale), pooled_fusion=pooled_fusion, embedders=embedders,
        meta=dict(meta or {}),
    )  # fmt: skip
