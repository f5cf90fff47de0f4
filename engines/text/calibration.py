"""Per-policy calibration: similarity features → probability, by logistic regression (Platt scaling).

Features of a text span against a policy: `s_violating`, the best cosine similarity to the policy's definition,
blocked clauses and violating examples; `s_allowed`, the best similarity to its allowed clauses and benign
examples (0 when it has none); `s_framing`, the best similarity to a few policy-independent benign framings
(news reporting, safety warnings, support information, education, kindness campaigns — see scoring.py), which
is what separates hard-benign text from harmful text on the same topic.
p = sigmoid(w_violating · s_violating + w_allowed · s_allowed + w_framing · s_framing + bias).
The fit is class-balanced, so z = 0 is the balanced decision boundary; at runtime that boundary is placed on
the policy's review threshold: p = sigmoid(z + logit(review)). A policy flagged for review is then one whose
text is more likely violating than not under a balanced prior, whatever threshold the pack sets.
Policies without labelled data use the `pooled` fit over every labelled policy. The fitted weights are
committed in `calibration.json` (see `engines/text/calibrate.py` for the procedure); runtime never refits.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

CALIBRATION_FILE = Path(__file__).with_name("calibration.json")
POOLED = "pooled"


@dataclass(frozen=True)
class PlattWeights:
    w_violating: float
    w_allowed: float
    w_framing: float
    bias: float

    def probability(self, s_violating: float, s_allowed: float, s_framing: float, review: float = 0.5) -> float:
        z = self.w_violating * s_violating + self.w_allowed * s_allowed + self.w_framing * s_framing + self.bias
        z += math.log(review / (1.0 - review)) if 0.0 < review < 1.0 else 0.0
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))


@dataclass(frozen=True)
class Calibration:
    """Weights per policy id plus the pooled fallback; `version` is recorded in the guard version."""

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
