"""From per-frame class probabilities to per-policy probabilities: the documented, monotone mapping.

1. Expert signal. Each model ("expert") gives each policy it has a signal for the sum of the probabilities of the
   classes in `SIGNALS` (e.g. nsfwjs: P(Porn) + P(Hentai) for c1.explicit).
2. Fusion (the AEGIS idea: several experts, weights fitted on labelled data). Per frame,
   p = σ(bias + Σₑ wₑ · logit(sₑ)), every wₑ ≥ 0, so p never falls when an expert's signal rises. Default
   weights sum to 1 (a weighted geometric mean of the experts' odds); the default bias is the label-shift
   (prior) correction logit(π) − logit(½) for a prior π = DEFAULT_PRIOR of violating frames, since the experts'
   probabilities carry their balanced training priors: three experts at 0.9 give 0.69 (review), at 0.99 give
   0.96 (auto action). `fit_fusion` refits weights and bias on a user's labelled (expert scores, labels) with
   L2-regularised logistic regression, non-negative weights.
3. Over frames: the maximum (the worst frame drives the score; noisy-or would grow with the number of frames).
The policy pack's thresholds (review / auto_action) then decide; no visual model scores c1.minors, weapons, drugs
or hate symbols, and the guard refuses to score policies missing from `SIGNALS`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from guardstream.engines.visual.catalog import spec

EPSILON = 1e-4  # signals are clipped to [ε, 1 − ε] before the logit
DEFAULT_PRIOR = 0.2  # assumed share of violating frames among those the experts see (sets the default bias)
_SEXUAL_EXPLICIT = {"nsfw": ("Porn", "Hentai"), "nsfw-mid": ("Porn", "Hentai"), "nsfw-inception": ("Porn", "Hentai"),
                    "open-nsfw": ("NSFW",), "image-safety": ("NSFW",)}  # fmt: skip
_SEXUAL_ANY = {"nsfw": ("Sexy", "Porn", "Hentai"), "nsfw-mid": ("Sexy", "Porn", "Hentai"),
               "nsfw-inception": ("Sexy", "Porn", "Hentai"),
               "open-nsfw": ("NSFW",), "image-safety": ("NSFW",)}  # fmt: skip
SIGNALS: dict[str, dict[str, tuple[str, ...]]] = {
    "c1.explicit": _SEXUAL_EXPLICIT,
    "c1.suggestive": _SEXUAL_ANY,  # sexualised content of any degree; explicit content also earns c1.explicit
    "c3.violence": {"image-safety": ("NSFL",)},  # NSFL = gore / graphic: the graphic part of c3.violence only
}
# nsfwjs separates explicit from suggestive; Open-NSFW and image-safety have one "NSFW" class, so they count less.
DEFAULT_WEIGHTS: dict[str, float] = {
    "nsfw": 2.0,
    "nsfw-mid": 2.0,
    "nsfw-inception": 2.0,
    "open-nsfw": 1.0,
    "image-safety": 1.0,
}


def expert_signal(model: str, policy_id: str, probabilities: np.ndarray) -> np.ndarray:
    """(N,) signal of `model` for `policy_id` from its (N, classes) probabilities."""
    classes = spec(model).classes
    columns = [classes.index(c) for c in SIGNALS[policy_id][model]]
    signal: np.ndarray = np.clip(probabilities[:, columns].sum(axis=1), 0.0, 1.0)
    return signal


def logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, EPSILON, 1.0 - EPSILON)
    out: np.ndarray = np.log(q) - np.log1p(-q)
    return out


def sigmoid(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = 1.0 / (1.0 + np.exp(-x))
    return out


@dataclass(frozen=True)
class Fusion:
    """One policy's fusion: p = σ(bias + Σ wₑ · logit(sₑ)) over `experts` (weights ≥ 0)."""

    policy_id: str
    experts: tuple[str, ...]
    weights: tuple[float, ...]
    bias: float = 0.0

    def __post_init__(self) -> None:
        if len(self.experts) != len(self.weights) or not self.experts:
            raise ValueError(f"fusion for {self.policy_id}: one weight per expert, at least one expert")
        if any(w < 0 or not np.isfinite(w) for w in self.weights) or not np.isfinite(self.bias):
            raise ValueError(f"fusion for {self.policy_id}: weights must be finite and >= 0 (monotone mapping)")

    def fuse(self, signals: np.ndarray) -> np.ndarray:
        """(N, experts) signals, columns in `experts` order → (N,) probabilities."""
        return sigmoid(self.bias + logit(signals) @ np.asarray(self.weights))


def default_fusion(policy_id: str, experts: Sequence[str]) -> Fusion:
    """Default weights (DEFAULT_WEIGHTS normalised to sum 1) over the experts that have a signal for the policy,
    and the prior-correction bias logit(DEFAULT_PRIOR)."""
    usable = tuple(e for e in experts if e in SIGNALS[policy_id])
    if not usable:
        raise ValueError(f"none of the experts {list(experts)} has a signal for {policy_id}")
    raw = np.array([DEFAULT_WEIGHTS[e] for e in usable])
    bias = float(np.log(DEFAULT_PRIOR / (1.0 - DEFAULT_PRIOR)))
    return Fusion(policy_id, usable, tuple(float(w) for w in raw / raw.sum()), bias)


def fit_fusion(
    policy_id: str,
    experts: Sequence[str],
    expert_scores: np.ndarray,
    labels: np.ndarray,
    *,
    l2: float = 1e-3,
    steps: int = 2000,
    learning_rate: float = 0.5,
) -> Fusion:
    """Fit weights (≥ 0) and bias on labelled data: `expert_scores` (N, experts) signals in [0, 1], `labels`
    (N,) 0 / 1 (1 = violates). Projected gradient descent on the L2-regularised logistic loss."""
    x = logit(np.asarray(expert_scores, np.float64))
    y = np.asarray(labels, np.float64)
    if x.ndim != 2 or x.shape != (len(y), len(experts)) or len(np.unique(y)) != 2:
        raise ValueError("fit_fusion needs (N, experts) scores and N labels containing both 0 and 1")
    w, b = np.full(x.shape[1], 1.0 / x.shape[1]), 0.0
    for _ in range(steps):
        err = sigmoid(x @ w + b) - y
        w = np.maximum(w - learning_rate * (x.T @ err / len(y) + l2 * w), 0.0)
        b -= learning_rate * float(err.mean())
    return Fusion(policy_id, tuple(experts), tuple(float(v) for v in w), float(b))


def save_fusions(fusions: Sequence[Fusion], path: Path) -> None:
    """Write fitted fusions as JSON (what `VisualGuard(fusion_path=…)` reads)."""
    data = {f.policy_id: {"experts": list(f.experts), "weights": list(f.weights), "bias": f.bias} for f in fusions}
    path.write_text(json.dumps({"schema_version": 1, "fusions": data}, indent=2) + "\n", encoding="utf-8")


def load_fusions(path: Path) -> dict[str, Fusion]:
    """Fusions written by `save_fusions` (ValueError on a malformed file)."""
    data: Mapping[str, Mapping[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["fusions"]
    out = {}
    for pid, f in data.items():
        experts = tuple(str(e) for e in f["experts"])
        out[pid] = Fusion(pid, experts, tuple(float(w) for w in f["weights"]), float(f["bias"]))
    return out
