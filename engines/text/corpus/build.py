"""Write the training manifest from the phrase tables: `python -m guardstream.engines.text.corpus.build [OUT]`.

Every contrasting pair gives six items — harmful and benign, each as title + description, description only and
title only (OCR spans and one-field uploads are short) — tagged `harmful` / `hard_benign`, with the pair id as
`group` so cross-validation never splits a pair. Neutral rows give title + description and description-only items.
Deterministic: the same tables always write the same bytes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from guardstream.engines.text.corpus import neutral, pairs_c1_c2, pairs_c3_c4, pairs_c5_c6

TRAIN_MANIFEST = Path(__file__).resolve().parent.parent / "data" / "train.jsonl"
# Pairs whose harmful side also violates a second policy (index into the policy's pair list).
EXTRA_LABELS: dict[tuple[str, int], list[str]] = {
    ("c3.threats", 5): ["c6.hate"],
    ("c6.hate", 6): ["c3.threats"],
    ("c6.extremism", 5): ["c3.threats"],
}
PAIRS = {**pairs_c1_c2.PAIRS, **pairs_c3_c4.PAIRS, **pairs_c5_c6.PAIRS}


def _variants(title: str, description: str) -> dict[str, tuple[str, str]]:
    return {"full": (title, description), "desc": ("", description), "title": (title, "")}


def pair_items(policy: str, index: int, row: tuple[str, str, str, str]) -> list[dict[str, Any]]:
    harmful_title, harmful_desc, benign_title, benign_desc = row
    group = f"{policy}-{index:02d}"
    labels = [policy, *EXTRA_LABELS.get((policy, index), [])]
    items = []
    for side, tag, item_labels, (title, desc) in (
        ("h", "harmful", labels, (harmful_title, harmful_desc)),
        ("b", "hard_benign", [], (benign_title, benign_desc)),
    ):
        for variant, (t, d) in _variants(title, desc).items():
            items.append({"id": f"tr-{group}-{side}-{variant}", "title": t, "description": d,
                          "labels": item_labels, "tag": tag, "group": group})  # fmt: skip
    return items


def neutral_items() -> list[dict[str, Any]]:
    items = []
    for name, rows in (("neutral", neutral.NEUTRAL), ("idiom", neutral.IDIOMS)):
        for i, (title, desc) in enumerate(rows):
            group = f"{name}-{i:02d}"
            base = {"labels": [], "tag": "neutral", "group": group}
            items.append({"id": f"tr-{group}-full", "title": title, "description": desc, **base})
            if desc:
                items.append({"id": f"tr-{group}-desc", "title": "", "description": desc, **base})
    return items


def train_items() -> list[dict[str, Any]]:
    items = [it for policy, rows in PAIRS.items() for i, row in enumerate(rows) for it in pair_items(policy, i, row)]
    return items + neutral_items()


def write_manifest(path: Path, items: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items), encoding="utf-8")


if __name__ == "__main__":
    write_manifest(Path(sys.argv[1]) if len(sys.argv) > 1 else TRAIN_MANIFEST, train_items())
