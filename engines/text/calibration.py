"""Per-policy calibration: similarity features → probability, by logistic regression (Platt scaling), placed
above a neutral background.

Features of a text span against a policy (scoring.span_features): `s_violating`, the best cosine similarity to
the policy's definition, blocked clauses and violating examples; `margin`, s_violating minus the best similarity to
what the policy allows (its allowed clauses and benign examples) or to a few policy-independent benign framings
(news, warnings, support information, education, kindness campaigns) — the stance term: text on a harmful topic
that reads more like reporting or a warning than like the violation gets a negative margin; `s_framing`, the best
similarity to the benign framings.
z = w_violating · s_violating + w_margin · margin + w_framing · s_framing + bias − background_offset, and
p = sigmoid(z + logit(review)): z = 0 sits on the policy's review threshold.
The weights are a class-balanced fit (labelled policies: their own; others: the `pooled` fit over every labelled
policy); `background_offset` then moves each policy's boundary above everything the fit half of the neutral
background (engines/text/background.py: generic titles, file names, everyday captions and on-screen phrases)
scores, plus a margin, so that a policy flags only text that is more policy-like than any neutral text seen.
The fitted values are committed in `calibration.json` (procedure: `engines/text/calibrate.py`); runtime never
refits.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

CALIBRATION_FILE = Path(__file__).with_name("calibration.json")
POOLED = "pooled"


@dataclass(frozen=True)
class PlattWeights:
    w_violating: float
    w_margin: float
    w_framing: float
    bias: float
    background_offset: float = 0.0

    def logit(self, s_violating: float, margin: float, s_framing: float) -> float:
        """z before the review threshold is applied (z > 0: flag for review)."""
        z = self.w_violating * s_violating + self.w_margin * margin + self.w_framing * s_framing + self.bias
        return z - self.background_offset

    def with_offset(self, background_offset: float) -> PlattWeights:
        return replace(self, background_offset=background_offset)

    def probability(self, s_violating: float, margin: float, s_framing: float, review: float = 0.5) -> float:
        z = self.logit(s_violating, margin, s_framing)
        z += math.log(review / (1.0 - review)) if 0.0 < review < 1.0 else 0.0
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))


@dataclass(frozen=True)
class Calibration:
    """Weights per policy id plus the pooled fallback (for policies of other packs; its background offset is the
    largest any policy needed); `version` is recorded in the guard version."""

    version: str
    pooled: PlattWeights
    policies: dict[str, PlattWeights]

    def for_policy(self, policy_id: str) -> PlattWeights:
        return self.policies.get(policy_id, self.pooled)

    def to_json(self) -> str:
        body = {
            "version": self.version,
            POOLED: asdict(self.pooled),
            "policies": {k: asdict(v) for k, v in sorted(self.policies.items())},
        }
        return json.dumps(body, indent=2) + "\n"

    @classmethod
    def load(cls, path: Path = CALIBRATION_FILE) -> Calibration:
        raw = json.loads(path.read_text(encoding="utf-8"))
        policies = {k: PlattWeights(**v) for k, v in raw["policies"].items()}
        return cls(version=raw["version"], pooled=PlattWeights(**raw[POOLED]), policies=policies)


def fit_platt(features: np.ndarray, labels: np.ndarray, l2: float = 0.1, steps: int = 200) -> PlattWeights:
    """Class-balanced, L2-regularised logistic regression on (n, 3) features by Newton's method."""
    x = np.hstack([features.astype(np.float64), np.ones((len(features), 1))])
    y = labels.astype(np.float64)
    pos = max(1.0, y.sum())
    neg = max(1.0, len(y) - y.sum())
    weight = np.where(y > 0, len(y) / (2 * pos), len(y) / (2 * neg))
    reg = np.diag([l2] * features.shape[1] + [0.0])
    theta = np.zeros(x.shape[1])
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ theta, -60, 60)))
        grad = x.T @ (weight * (p - y)) + reg @ theta
        hess = (x * (weight * p * (1 - p))[:, None]).T @ x + reg + 1e-9 * np.eye(len(theta))
        delta = np.linalg.solve(hess, grad)
        theta -= delta
        if float(np.abs(delta).max()) < 1e-9:
            break
    return PlattWeights(*(float(t) for t in theta))
