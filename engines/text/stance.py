"""Stance clauses and the features the stance model reads.

For every policy the guard compares a text with two sides of the same topic: the violating side (the policy's
definition, blocked clauses and violating examples, plus a harmful-stance sentence written here) and the benign
side (allowed clauses, benign examples, plus a benign-stance sentence: warning, reporting, educating, condemning,
supporting recovery). BRIEF §8: cos-to-harmful minus cos-to-benign ranks a harmful text above its benign twin
where plain cosine does not. Policy-independent stance sentences (promoting, instructing, threatening, selling,
targeting vs warning, reporting, educating, condemning, recovery, everyday life) add the framing signal.

Features of a unit vector e (MiniLM, 384-d): e itself; per policy: s_violating, s_benign, their difference and
(harmful-stance − benign-stance); then the cosine to each generic stance sentence.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from guardstream.schemas.policy import Policy

GENERIC_HARMFUL = (
    "Promoting or glorifying something harmful.",
    "Instructions telling people how to do something dangerous or illegal.",
    "A threat to hurt someone.",
    "Selling something illegal, contact me to buy.",
    "Targeting and insulting a specific person.",
    "Telling someone to hurt themselves.",
)
GENERIC_BENIGN = (
    "A warning that helps people protect themselves.",
    "A news report about a crime or an incident.",
    "Educational content explaining the facts.",
    "Condemning harmful behaviour and supporting victims.",
    "A personal recovery story and where to get help.",
    "An everyday post about food, sport, pets, hobbies, study or work.",
)
HARMFUL_STANCE: dict[str, str] = {
    "c1.explicit": "Explicit porn: people having sex or showing their genitals to arouse viewers.",
    "c1.suggestive": "Sexy teasing content or paid sexual services offered for money.",
    "c1.minors": "An adult seeking sexual contact or sexy photos from a child.",
    "c2.harassment": "Insulting and humiliating a named person and urging others to abuse them.",
    "c2.doxxing": "Posting a private person's home address, phone number or nude photos so others can find them.",
    "c3.violence": "Enjoying real footage of people being beaten, hurt or killed.",
    "c3.threats": "I am going to hurt or kill you, or a call for people to attack someone.",
    "c3.self_harm": "Telling someone to kill themselves or giving methods for self-harm or starving.",
    "c4.scam": "Send money or your password to get a guaranteed prize or profit.",
    "c4.misinformation": "A false health cure or fake claim presented as the hidden truth.",
    "c5.drugs": "Drugs for sale, message me to buy.",
    "c5.weapons": "Selling illegal guns or instructions to build a weapon or a bomb.",
    "c6.hate": "That group of people are vermin and must be driven out.",
    "c6.extremism": "Join our armed movement and glorify the attackers as heroes.",
}
BENIGN_STANCE: dict[str, str] = {
    "c1.explicit": "Sex education, art history or medical information about the body.",
    "c1.suggestive": "Swimwear, fitness, dance or fashion content without sexual focus.",
    "c1.minors": "Teaching parents and children how to stay safe from predators.",
    "c2.harassment": "Speaking out against bullying and supporting those who are bullied.",
    "c2.doxxing": "How to protect your privacy, or a business sharing its own contact details.",
    "c3.violence": "Sports, films, games or careful news reporting about violence.",
    "c3.threats": "Reporting or condemning threats, or an obvious joke between friends.",
    "c3.self_harm": "You are not alone, support and recovery from self-harm.",
    "c4.scam": "A warning explaining how a scam works so people can avoid it.",
    "c4.misinformation": "A fact-check or a scientist explaining the evidence.",
    "c5.drugs": "Addiction recovery, harm reduction or news about drug crime.",
    "c5.weapons": "Gun safety, licensed hunting, sport shooting or military history.",
    "c6.hate": "Speaking against discrimination and celebrating equality.",
    "c6.extremism": "Research or journalism explaining extremism, or leaving an extremist group.",
}
POLICY_FEATURES = 4  # s_violating, s_benign, s_violating - s_benign, harmful stance - benign stance


@dataclass(frozen=True)
class PolicyClauses:
    """The sentences one policy's features compare a text with (stored in the model file it was fitted with)."""

    policy_id: str
    violating: tuple[str, ...]
    benign: tuple[str, ...]
    harmful_stance: str
    benign_stance: str

    @classmethod
    def of(cls, policy: Policy) -> PolicyClauses:
        """From the pack's text plus this module's stance sentences (generic ones for a policy not listed)."""
        violating = (policy.definition, *policy.blocked, *policy.examples_violating)
        benign = (*policy.allowed, *policy.examples_benign) or (GENERIC_BENIGN[0],)
        return cls(policy.id, violating, benign, HARMFUL_STANCE.get(policy.id, f"{policy.title}: {policy.definition}"),
                   BENIGN_STANCE.get(policy.id, benign[0]))  # fmt: skip


Embed = Callable[[list[str]], np.ndarray]


class FeatureBuilder:
    """Turns unit text vectors into model features; clause vectors are embedded once."""

    def __init__(self, embed: Embed, clauses: Sequence[PolicyClauses]) -> None:
        self.embed = embed
        self.clauses = list(clauses)
        self._anchors = [self._anchor_vectors(c) for c in self.clauses]
        self._generic = embed([*GENERIC_HARMFUL, *GENERIC_BENIGN])

    def _anchor_vectors(self, c: PolicyClauses) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return (
            self.embed(list(c.violating)),
            self.embed(list(c.benign)),
            self.embed([c.harmful_stance, c.benign_stance]),
        )

    def policy_features(self, vectors: np.ndarray, clauses: PolicyClauses) -> np.ndarray:
        """(n, POLICY_FEATURES) for any policy (its clause vectors embedded on the way)."""
        return _policy_features(vectors, *self._anchor_vectors(clauses))

    def features(self, vectors: np.ndarray, extra: np.ndarray | None = None) -> np.ndarray:
        """(n, dim + POLICY_FEATURES × policies + generic [+ extra dims]) float64; `extra`: a second view's
        vectors of the same texts (e5), appended as they are."""
        cols = [vectors.astype(np.float64)]
        cols += [_policy_features(vectors, *anchors) for anchors in self._anchors]
        cols.append((vectors @ self._generic.T).astype(np.float64))
        if extra is not None:
            cols.append(extra.astype(np.float64))
        return np.hstack(cols)


def _policy_features(vectors: np.ndarray, violating: np.ndarray, benign: np.ndarray, stance: np.ndarray) -> np.ndarray:
    s_v = (vectors @ violating.T).max(axis=1)
    s_b = (vectors @ benign.T).max(axis=1)
    st = vectors @ stance.T
    return np.stack([s_v, s_b, s_v - s_b, st[:, 0] - st[:, 1]], axis=1).astype(np.float64)
