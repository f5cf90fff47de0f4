"""Match a signal against every bank: an exact index over all banked frame hashes finds candidates within the
largest bank threshold; each candidate is then checked by its signal type under its own bank's rule (PDQ
distance; vPDQ's two-sided match percentages). Built from a snapshot of the bank table; rebuilt when it moves."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from guardstream.engines.hashing.base import Comparison, MatchRule, Signal, signal_type
from guardstream.engines.hashing.index import HashIndex


@dataclass(frozen=True)
class BankRule:
    """A bank as the matcher needs it: name, version, the policy and action it enforces, its thresholds."""

    name: str
    version: int
    policy_id: str
    action: str
    rule: MatchRule


@dataclass(frozen=True)
class BankedSignal:
    bank: str
    content_id: str
    signal: Signal


@dataclass(frozen=True)
class Match:
    bank: str
    bank_version: int
    content_id: str
    policy_id: str
    action: str
    signal_type: str
    comparison: Comparison

    def to_json(self) -> dict[str, Any]:
        """The shape `guardstream match --json` prints per match."""
        c = self.comparison
        out: dict[str, Any] = {
            "bank": self.bank, "bank_version": self.bank_version, "content_id": self.content_id,
            "policy": self.policy_id, "action": self.action, "signal_type": self.signal_type,
        }  # fmt: skip
        if c.query_match_pct is None:
            out["distance"] = c.distance
        else:
            out.update(query_match_pct=c.query_match_pct, compared_match_pct=c.compared_match_pct, distance=c.distance)
        out["timestamps_s"] = [round(t, 3) for t in c.timestamps_s]
        return out


class _Family:
    """All banked signals of one signal type, with an index over their frame hashes."""

    def __init__(self, algorithm: str, entries: list[BankedSignal], quality: int) -> None:
        self.kind = signal_type(algorithm)
        self.entries = entries
        rows, owners = [], []
        for n, entry in enumerate(entries):
            hashes, _ = self.kind.frame_hashes(entry.signal, quality)
            rows.append(hashes)
            owners.append(np.full(len(hashes), n, dtype=np.int64))
        codes = np.concatenate(rows) if rows else np.zeros((0, 32), dtype=np.uint8)
        self.owner = np.concatenate(owners) if owners else np.zeros(0, dtype=np.int64)
        self.index = HashIndex(codes)

    def candidates(self, query: Signal, radius: int, quality: int) -> list[BankedSignal]:
        hashes, _ = self.kind.frame_hashes(query, quality)
        if len(hashes) == 0 or len(self.index) == 0:
            return []
        hits = self.index.range_search(hashes, radius)
        return [self.entries[n] for n in sorted(set(self.owner[hits.entry].tolist()))]


class BankMatcher:
    """Immutable once built; `match` is safe to call from several threads."""

    def __init__(self, banks: Sequence[BankRule], entries: Sequence[BankedSignal], quality: int = 50) -> None:
        self.banks = {b.name: b for b in banks}
        self.quality = quality
        by_type: dict[str, list[BankedSignal]] = {}
        for entry in entries:
            if entry.bank in self.banks:
                by_type.setdefault(entry.signal.algorithm, []).append(entry)
        self.families = {name: _Family(name, group, quality) for name, group in by_type.items()}
        self.radius = max((b.rule.distance for b in banks), default=0)

    def __len__(self) -> int:
        return sum(len(f.entries) for f in self.families.values())

    def match(self, query: Signal) -> list[Match]:
        """Every banked signal that `query` matches under its bank's rule, best first."""
        family = self.families.get(query.algorithm)
        if family is None:
            return []
        found = []
        for entry in family.candidates(query, self.radius, self.quality):
            bank = self.banks[entry.bank]
            comparison = family.kind.compare(query, entry.signal, _with_quality(bank.rule, self.quality))
            if comparison.matched:
                found.append(Match(bank.name, bank.version, entry.content_id, bank.policy_id, bank.action,
                                   query.algorithm, comparison))  # fmt: skip
        return sorted(found, key=_rank)


def _with_quality(rule: MatchRule, quality: int) -> MatchRule:
    return MatchRule(rule.distance, rule.query_match_pct, rule.compared_match_pct, quality)


def _rank(match: Match) -> tuple[float, int, str, str]:
    c = match.comparison
    return (-(c.query_match_pct or 0.0), c.distance, match.bank, match.content_id)
