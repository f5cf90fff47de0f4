"""Plain functions from span embeddings and policy anchors to per-policy scores with explanations."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from guardstream.engines.base import PolicyScore
from guardstream.engines.text.calibration import PlattWeights
from guardstream.engines.text.untrusted import quote
from guardstream.schemas.policy import Policy
from guardstream.schemas.verdict import MAX_OCR_SPAN_CHARS, Evidence

QUOTE_CHARS = 160
# Policy-independent framings of benign text about harmful topics (MOSSBench: over-flagging is a failure too).
BENIGN_FRAMINGS = (
    "A news report about a crime or an incident.",
    "A warning that helps people protect themselves.",
    "Information about where to get help and support.",
    "Educational content about history, health or prevention.",
    "A campaign promoting kindness, safety and respect.",
)


@dataclass(frozen=True)
class Span:
    """A piece of untrusted text with where it came from."""

    text: str
    field: str  # "ocr", "title", "description" or "transcript"
    timestamps_s: tuple[float, ...] = ()
    frame_indices: tuple[int, ...] = ()


@dataclass(frozen=True)
class Anchor:
    """A policy sentence the guard compares text with; `clause` names it in explanations."""

    clause: str
    text: str
    violating: bool


def policy_anchors(policy: Policy) -> list[Anchor]:
    """Definition, blocked clauses and violating examples (violating side); allowed clauses and benign examples."""
    anchors = [Anchor("definition", policy.definition, True)]
    anchors += [Anchor(f"blocked[{i}]", t, True) for i, t in enumerate(policy.blocked)]
    anchors += [Anchor(f"examples_violating[{i}]", t, True) for i, t in enumerate(policy.examples_violating)]
    anchors += [Anchor(f"allowed[{i}]", t, False) for i, t in enumerate(policy.allowed)]
    anchors += [Anchor(f"examples_benign[{i}]", t, False) for i, t in enumerate(policy.examples_benign)]
    return anchors


def span_features(
    span_vectors: np.ndarray, anchors: list[Anchor], anchor_vectors: np.ndarray, framing_vectors: np.ndarray
) -> np.ndarray:
    """(n_spans, 3): s_violating, the best similarity to the violating anchors; margin, s_violating minus the best
    similarity to an allowed anchor or a benign framing (the stance term); s_framing, the best similarity to the
    benign framings."""
    sims = span_vectors @ anchor_vectors.T
    violating = np.array([a.violating for a in anchors])
    s_v = sims[:, violating].max(axis=1)
    s_f = (span_vectors @ framing_vectors.T).max(axis=1)
    s_a = sims[:, ~violating].max(axis=1) if (~violating).any() else s_f
    margin = s_v - np.maximum(s_a, s_f)
    return np.stack([s_v, margin, s_f], axis=1).astype(np.float64)


def score_policy(
    policy: Policy,
    spans: list[Span],
    span_vectors: np.ndarray,
    anchors: list[Anchor],
    anchor_vectors: np.ndarray,
    framing_vectors: np.ndarray,
    weights: PlattWeights,
) -> PolicyScore:
    """The policy's probability is that of its most incriminating span; flagged scores carry an explanation."""
    if not spans:
        return PolicyScore(policy.id, 0.0)
    features = span_features(span_vectors, anchors, anchor_vectors, framing_vectors)
    probs = [weights.probability(f[0], f[1], f[2], policy.thresholds.review) for f in features]
    best = int(np.argmax(probs))
    span, probability = spans[best], float(probs[best])
    evidence = Evidence(
        timestamps_s=span.timestamps_s,
        frame_indices=span.frame_indices,
        ocr_span=quote(span.text, MAX_OCR_SPAN_CHARS),
        text_field=span.field,  # type: ignore[arg-type]
    )
    explanation = None
    if probability >= policy.thresholds.review:
        explanation = explain(policy, span, span_vectors[best], anchors, anchor_vectors, probability)
    return PolicyScore(policy.id, probability, explanation, evidence)


def explain(
    policy: Policy,
    span: Span,
    span_vector: np.ndarray,
    anchors: list[Anchor],
    anchor_vectors: np.ndarray,
    probability: float,
) -> str:
    """Quote the evidence span and where it was seen, and name the closest blocked clause of the policy."""
    blocked = [i for i, a in enumerate(anchors) if a.clause.startswith("blocked")]
    closest = max(blocked, key=lambda i: float(anchor_vectors[i] @ span_vector))
    clause = anchors[closest]
    if span.field == "ocr":
        where = "on-screen text at " + ", ".join(f"{t:.1f}s" for t in span.timestamps_s[:5])
    else:
        where = f"the upload {span.field}"
    return (
        f'{where} reads "{quote(span.text, QUOTE_CHARS)}"; this matches policy {policy.id} '
        f'({policy.title}), clause {clause.clause}: "{clause.text}" (p={probability:.2f}).'
    )
