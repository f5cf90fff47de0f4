"""Reconcile produced uploads against the lake: lost (no row), duplicated (more than one row), held (HOLD)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from guardstream.operators.lake import Lake
from guardstream.pipeline.demo_data import SyntheticUpload


@dataclass(frozen=True)
class Reconciled:
    decided: frozenset[str]
    lost: int
    duplicated: int
    held: int


def lake_outcomes(lake: Lake, uploads: Sequence[SyntheticUpload]) -> tuple[Counter[str], Counter[str], set[str]]:
    """Per upload id: verdict rows, dead-letter rows, and the ids whose verdict is HOLD."""
    ids = {u.upload_id for u in uploads}
    by_payload = {u.payload: u.upload_id for u in uploads}
    verdicts = lake.verdicts().scan(selected_fields=("upload_id", "action")).to_arrow().to_pylist()
    letters = lake.dead_letters().scan(selected_fields=("upload_id", "payload")).to_arrow().to_pylist()
    verdict_rows = Counter(r["upload_id"] for r in verdicts if r["upload_id"] in ids)
    held = {r["upload_id"] for r in verdicts if r["upload_id"] in ids and r["action"] == "hold"}
    letter_ids = [r["upload_id"] if r["upload_id"] in ids else by_payload.get(bytes(r["payload"])) for r in letters]
    return verdict_rows, Counter(i for i in letter_ids if i is not None), held


def reconcile(lake: Lake, uploads: Sequence[SyntheticUpload]) -> Reconciled:
    verdict_rows, letter_rows, held = lake_outcomes(lake, uploads)
    rows = {u.upload_id: verdict_rows[u.upload_id] + letter_rows[u.upload_id] for u in uploads}
    return Reconciled(
        decided=frozenset(i for i, n in rows.items() if n > 0),
        lost=sum(1 for n in rows.values() if n == 0),
        duplicated=sum(n - 1 for n in rows.values() if n > 1),
        held=len(held),
    )
