"""Spans of untrusted text and the explanations that quote them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from guardstream.engines.text.untrusted import quote
from guardstream.schemas.policy import Policy

QUOTE_CHARS = 160


@dataclass(frozen=True)
class Span:
    """A piece of untrusted text with where it came from; `fields` names every metadata field it spans."""

    text: str
    field: str  # "ocr", "title", "description" or "transcript" (the evidence's text_field)
    timestamps_s: tuple[float, ...] = ()
    frame_indices: tuple[int, ...] = ()
    fields: tuple[str, ...] = ()


def where(span: Span) -> str:
    if span.field == "ocr":
        return "on-screen text at " + ", ".join(f"{t:.1f}s" for t in span.timestamps_s[:5])
    names = span.fields or (span.field,)
    return "the upload " + " and ".join(names)


def explain(
    policy: Policy, span: Span, span_vector: np.ndarray, blocked_vectors: np.ndarray, probability: float
) -> str:
    """Quote the evidence span and where it was seen, and name the closest blocked clause of the policy."""
    if len(blocked_vectors):
        closest = int(np.argmax(blocked_vectors @ span_vector))
        clause = f'clause blocked[{closest}]: "{policy.blocked[closest]}"'
    else:
        clause = f'definition: "{policy.definition}"'
    return (
        f'{where(span)} reads "{quote(span.text, QUOTE_CHARS)}"; this matches policy {policy.id} '
        f"({policy.title}), {clause} (p={probability:.2f})."
    )
