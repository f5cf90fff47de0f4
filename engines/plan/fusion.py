"""Fusing the probabilities several guards gave one policy, and fitting fusion weights on labelled data.

`fit_fusion` is what an evaluation harness calls with per-item guard scores (e.g. a verdict's
`results[i].guard_scores`) and labels; the weights it returns go into the plan (`policy_fusion`), so a change of
weights is a new plan version."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from guardstream.schemas.plan import Combine, Fusion, FusionWeights, GuardPlan

EPS = 1e-6


def logit(p: float) -> float:
    q = min(max(p, EPS), 1.0 - EPS)
    return math.log(q / (1.0 - q))


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def fuse(fusion: Fusion, scores: Mapping[str, float]) -> float:
    """One probability from {guard: p}. Monotone non-decreasing in every pᵢ for max and noisy-or (and for weighted
    with non-negative weights); an empty mapping fuses to 0.0 (the caller fails closed on missing scores)."""
    if not scores:
        return 0.0
    if fusion.combine is Combine.MAX:
        return max(scores.values())
    if fusion.combine is Combine.NOISY_OR:
        return 1.0 - math.prod(1.0 - p for p in scores.values())
    assert fusion.weights is not None  # the schema enforces weights for 'weighted'
    return weighted(fusion.weights, scores)


def weighted(weights: FusionWeights, scores: Mapping[str, float]) -> float:
    """σ(bias + Σ wᵢ·logit pᵢ) over the guards present; a guard that did not score the policy adds nothing (the
    same convention `fit_fusion` trains with, so fitting and serving agree when a stage did not run)."""
    z = weights.bias + sum(w * logit(scores[g]) for g, w in weights.weights.items() if g in scores)
    return min(max(sigmoid(z), 0.0), 1.0)


def design_matrix(rows: Sequence[Mapping[str, float]], guards: Sequence[str]) -> np.ndarray:
    """Rows of logit pᵢ (0 where a guard did not score the item), one column per guard."""
    x = np.zeros((len(rows), len(guards)))
    for i, row in enumerate(rows):
        for j, guard in enumerate(guards):
            if guard in row:
                x[i, j] = logit(float(row[guard]))
    return x


def fit_fusion(
    rows: Sequence[Mapping[str, float]],
    labels: Sequence[bool],
    *,
    guards: Sequence[str] | None = None,
    l2: float = 1.0,
    non_negative: bool = True,
    fitted_on: str = "",
    max_iter: int = 100,
) -> FusionWeights:
    """Fit logistic-fusion weights on labelled items: rows of {guard: p} for one policy, labels True = violates.

    L2-regularised logistic regression by Newton's method (the bias is not penalised). With `non_negative`
    (default) a guard whose weight comes out negative is dropped and the rest refitted, so the fused score stays
    monotone in every guard — a guard growing more alarmed never lowers the score."""
    if len(rows) != len(labels) or not rows:
        raise ValueError("fit_fusion needs as many labels as rows, and at least one row")
    y = np.asarray(labels, dtype=float)
    if y.min() == y.max():
        raise ValueError("fit_fusion needs both violating and benign items")
    names = sorted(guards if guards is not None else {g for row in rows for g in row})
    if not names:
        raise ValueError("fit_fusion: the rows name no guard")
    while True:
        bias, w = _newton(design_matrix(rows, names), y, l2, max_iter)
        negative = [n for n, v in zip(names, w, strict=True) if v < 0]
        if not (non_negative and negative) or len(negative) == len(names):
            break
        names = [n for n in names if n not in negative]
    weights = {n: float(max(v, 0.0) if non_negative else v) for n, v in zip(names, w, strict=True)}
    return FusionWeights(bias=float(bias), weights=weights, fitted_on=fitted_on[:500])


def _newton(x: np.ndarray, y: np.ndarray, l2: float, max_iter: int) -> tuple[float, np.ndarray]:
    xb = np.hstack([np.ones((len(x), 1)), x])
    beta = np.zeros(xb.shape[1])
    penalty = np.full(xb.shape[1], l2)
    penalty[0] = 0.0
    for _ in range(max_iter):
        p = 1.0 / (1.0 + np.exp(-(xb @ beta)))
        grad = xb.T @ (p - y) + penalty * beta
        hess = (xb * (p * (1 - p))[:, None]).T @ xb + np.diag(penalty) + 1e-9 * np.eye(len(beta))
        step = np.linalg.solve(hess, grad)
        beta -= step
        if float(np.abs(step).max()) < 1e-8:
            break
    return float(beta[0]), beta[1:]


def with_fitted_weights(plan: GuardPlan, fitted: Mapping[str, FusionWeights]) -> GuardPlan:
    """The plan with `weighted` fusion for each fitted policy (others unchanged), validated again — a new plan
    version, so verdicts scored with the new weights carry a new idempotency key."""
    fusions = dict(plan.policy_fusion) | {p: Fusion(combine=Combine.WEIGHTED, weights=w) for p, w in fitted.items()}
    body = plan.model_dump(mode="json", exclude={"version"}) | {
        "policy_fusion": {p: f.model_dump(mode="json") for p, f in fusions.items()}
    }
    return GuardPlan.model_validate(body)
