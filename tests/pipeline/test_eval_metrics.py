"""Evaluation metrics on tiny cases computed by hand."""

from __future__ import annotations

import pytest

from guardstream.pipeline.evaluate.metrics import (
    Scored,
    average_precision,
    ece,
    exact_set_accuracy,
    fpr_by_tag,
    harmful_recall,
    macro_f1,
    micro_f1,
    oversensitivity,
    per_policy,
    suggested_thresholds,
    summarise,
)

P = ("a", "b")


def item(labels: set[str], tag: str, probs: dict[str, float], flagged: set[str], action: str = "allow") -> Scored:
    return Scored(frozenset(labels), tag, probs, frozenset(flagged), action)


# 1: a-harmful, caught. 2: b-harmful, flagged a instead. 3: benign hard case flagged a. 4: benign neutral clean.
ITEMS = [
    item({"a"}, "harmful", {"a": 0.9, "b": 0.1}, {"a"}, "block"),
    item({"b"}, "harmful", {"a": 0.6, "b": 0.4}, {"a"}, "block"),
    item(set(), "hard_benign", {"a": 0.7, "b": 0.2}, {"a"}, "review"),
    item(set(), "neutral", {"a": 0.1, "b": 0.3}, set(), "allow"),
]


def test_average_precision_by_hand() -> None:
    # ranked: + (P=1), - , + (P=2/3) → AP = (1 + 2/3) / 2
    assert average_precision([0.9, 0.8, 0.7], [True, False, True]) == pytest.approx(5 / 6)
    assert average_precision([0.5, 0.5], [True, False]) == pytest.approx(0.5)  # a tie is one step
    assert average_precision([0.3], [False]) is None


def test_per_policy_precision_recall_f1_auprc() -> None:
    stats = per_policy(ITEMS, P)
    # a: tp=1 (item 1), fp=2 (items 2, 3), fn=0
    assert stats["a"]["precision"] == pytest.approx(1 / 3) and stats["a"]["recall"] == 1.0
    assert stats["a"]["f1"] == pytest.approx(0.5)
    # a scores 0.9+, 0.7-, 0.6-, 0.1- → AP 1.0; b scores 0.4+, 0.3-, 0.2-, 0.1- → AP 1.0
    assert stats["a"]["auprc"] == 1.0 and stats["b"]["auprc"] == 1.0
    # b: never flagged → precision undefined, recall 0
    assert stats["b"]["precision"] is None and stats["b"]["recall"] == 0.0 and stats["b"]["f1"] is None
    assert stats["b"]["support"] == 1 and stats["a"]["flagged"] == 3


def test_micro_and_macro_f1() -> None:
    # micro: tp=1, fp=2, fn=1 → P=1/3, R=1/2, F1=0.4
    assert micro_f1(ITEMS, P) == pytest.approx(0.4)
    # macro over policies with positives: a F1 0.5, b F1 0 → 0.25
    assert macro_f1(ITEMS, P) == pytest.approx(0.25)


def test_exact_set_fpr_by_tag_oversensitivity_and_recall() -> None:
    assert exact_set_accuracy(ITEMS) == pytest.approx(2 / 4)  # items 1 and 4
    assert fpr_by_tag(ITEMS) == {"harmful": 0.5, "hard_benign": 1.0, "neutral": 0.0}  # item 2 flagged a wrongly
    assert oversensitivity(ITEMS) == pytest.approx(1 / 2)  # item 3 refused (review), item 4 allowed
    assert harmful_recall(ITEMS) == pytest.approx(1 / 2)


def test_ece_by_hand() -> None:
    # two pairs: p=0.9 label 1 (bin 9: |1-0.9|), p=0.15 label 0 (bin 1: |0-0.15|) → (0.1 + 0.15) / 2
    items = [item({"a"}, "x", {"a": 0.9}, set()), item(set(), "x", {"a": 0.15}, set())]
    assert ece(items, ("a",)) == pytest.approx(0.125)


def test_suggested_thresholds_reach_the_target_precision_with_most_recall() -> None:
    items = [item({"a"} if pos else set(), "x", {"a": s}, set()) for s, pos in
             [(0.9, True), (0.8, True), (0.7, False), (0.6, True), (0.2, False)]]  # fmt: skip
    got = suggested_thresholds(items, ("a",), 0.75)
    # t=0.6: precision 3/4, recall 1.0 (best); t=0.8: 1.0 / 2/3
    assert got["a"] == {"threshold": 0.6, "precision": 0.75, "recall": 1.0}
    assert suggested_thresholds(items, ("a",), 1.0)["a"] == {
        "threshold": 0.8,
        "precision": 1.0,
        "recall": pytest.approx(2 / 3),
    }
    assert suggested_thresholds([item(set(), "x", {"a": 0.5}, set())], ("a",), 0.9)["a"] is None


def test_summary_has_exactly_the_contract_keys() -> None:
    summary = summarise(ITEMS, P, 0.9, elapsed_s=2.0)
    assert set(summary) == {"exact_set_accuracy", "per_policy", "micro_f1", "macro_f1", "fpr_by_tag",
                            "oversensitivity", "ece", "suggested_thresholds", "items", "items_per_s"}  # fmt: skip
    assert summary["items"] == 4 and summary["items_per_s"] == 2.0
