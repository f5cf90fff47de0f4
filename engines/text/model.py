"""The stance model file: what `fit.py` writes and the text guard loads — feature standardisation, a stance head
(harmful vs benign framing, shared by every policy), one topic head per policy, and per policy a fusion of the
two logits with an operating offset that puts the pack's review threshold where the fit wanted it.

    z_stance = w_s · x + b_s            (x: standardised features, stance.FeatureBuilder)
    z_topic  = w_t[p] · x + b_t[p]
    z        = a1 · z_stance + a2 · z_topic + a3 · min(z_stance, z_topic) + a0 − offset[p]
    p        = sigmoid(z)

A policy the model was not fitted on (another pack) uses the pooled topic head over its four clause features and
the pooled fusion. The file is versioned by the hash of its content: `version` is what verdicts record (inside
the guard version), so a refit is auditable like a policy change. Runtime never fits.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from guardstream.engines.text.stance import PolicyClauses

MODEL_FILE = Path(__file__).with_name("data") / "stance_model.json"
FORMAT = 1


@dataclass(frozen=True)
class Linear:
    weights: tuple[float, ...]
    bias: float

    def apply(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x @ np.asarray(self.weights) + self.bias, dtype=np.float64)


@dataclass(frozen=True)
class Fusion:
    """z = stance · z_s + topic · z_t + both · min(z_s, z_t) + bias − offset."""

    stance: float
    topic: float
    both: float
    bias: float
    offset: float = 0.0

    def logit(self, z_stance: np.ndarray, z_topic: np.ndarray) -> np.ndarray:
        both = np.minimum(z_stance, z_topic)
        z: np.ndarray = self.stance * z_stance + self.topic * z_topic + self.both * both + self.bias - self.offset
        return z


@dataclass(frozen=True)
class PolicyHead:
    clauses: PolicyClauses
    topic: Linear
    fusion: Fusion


@dataclass(frozen=True)
class StanceModel:
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    stance: Linear
    heads: dict[str, PolicyHead]
    pooled_topic: Linear  # over one policy's POLICY_FEATURES (standardised with pooled_mean / pooled_scale)
    pooled_mean: tuple[float, ...]
    pooled_scale: tuple[float, ...]
    pooled_fusion: Fusion
    embedders: tuple[str, ...] = ("minilm",)  # the views whose vectors the features hold, in order ("e5" appended)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def version(self) -> str:
        """Content hash of everything that changes a score (meta excluded)."""
        return hashlib.sha256(self._scoring_json().encode()).hexdigest()[:12]

    def _scoring_json(self) -> str:
        body = asdict(self)
        body.pop("meta")
        return json.dumps(body, sort_keys=True, separators=(",", ":"))

    def standardise(self, features: np.ndarray) -> np.ndarray:
        if features.shape[1] != len(self.mean):
            raise ValueError(f"stance model expects {len(self.mean)} features, got {features.shape[1]}")
        standardised: np.ndarray = (features - np.asarray(self.mean)) / np.asarray(self.scale)
        return standardised

    def policy_logits(self, x: np.ndarray, policy_id: str) -> np.ndarray:
        head = self.heads[policy_id]
        return head.fusion.logit(self.stance.apply(x), head.topic.apply(x))

    def pooled_logits(self, x: np.ndarray, policy_features: np.ndarray) -> np.ndarray:
        pf = (policy_features - np.asarray(self.pooled_mean)) / np.asarray(self.pooled_scale)
        return self.pooled_fusion.logit(self.stance.apply(x), self.pooled_topic.apply(pf))

    def to_json(self) -> str:
        body = {"format": FORMAT, "version": self.version, **asdict(self)}
        return json.dumps(body, indent=1, sort_keys=True) + "\n"

    def save(self, path: Path) -> None:
        path.write_text(self.to_json(), encoding="utf-8")

    @classmethod
    def load(cls, path: Path = MODEL_FILE) -> StanceModel:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        if raw.get("format") != FORMAT:
            raise ValueError(f"{path}: stance model format {raw.get('format')!r}, expected {FORMAT}")
        model = cls(
            mean=tuple(raw["mean"]), scale=tuple(raw["scale"]), stance=Linear(tuple(raw["stance"]["weights"]),
            raw["stance"]["bias"]), heads={k: _head(v) for k, v in raw["heads"].items()},
            pooled_topic=Linear(tuple(raw["pooled_topic"]["weights"]), raw["pooled_topic"]["bias"]),
            pooled_mean=tuple(raw["pooled_mean"]), pooled_scale=tuple(raw["pooled_scale"]),
            pooled_fusion=Fusion(**raw["pooled_fusion"]), embedders=tuple(raw.get("embedders", ("minilm",))),
            meta=raw.get("meta", {}),
        )  # fmt: skip
        if raw.get("version") != model.version:
            raise ValueError(f"{path}: content does not match its version {raw.get('version')!r} (edited by hand?)")
        return model


def _head(raw: dict[str, Any]) -> PolicyHead:
    c = raw["clauses"]
    clauses = PolicyClauses(c["policy_id"], tuple(c["violating"]), tuple(c["benign"]), c["harmful_stance"],
                            c["benign_stance"])  # fmt: skip
    return PolicyHead(clauses, Linear(tuple(raw["topic"]["weights"]), raw["topic"]["bias"]), Fusion(**raw["fusion"]))
