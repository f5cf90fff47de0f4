"""The HTML diff report: counts per category, per policy and per action change, then example uploads with the
evidence each side cited. Everything that came from an upload or a guard is HTML-escaped."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from guardstream.pipeline.backfill.diff import CATEGORIES

STYLE = ("body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
         "padding:2px 8px}.newly_flagged{color:#b00}.cleared{color:#070}.action_changed{color:#b60}")  # fmt: skip


def _e(value: Any) -> str:
    return html.escape(str(value))


def _table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _example(example: dict[str, Any]) -> str:
    rows = [[p["policy_id"], _p(p["probability_a"]), _p(p["probability_b"]), p["explanation"] or "",
             ", ".join(f"{t:.2f}s" for t in p["timestamps_s"]), p["text_field"] or ""]
            for p in example["policies"]]  # fmt: skip
    title = f"{example['upload_id']}: {example['action_a']} → {example['action_b']}"
    return f"<h4>{_e(title)}</h4>" + _table(["policy", "p (A)", "p (B)", "explanation", "at", "field"], rows)


def _p(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def write_diff_report(path: Path, diff: dict[str, Any]) -> Path:
    title = f"guardstream backfill diff {diff['run_a']} → {diff['run_b']}"
    policies = [
        [p, c.get("newly_flagged", 0), c.get("cleared", 0), c.get("still_flagged", 0)]
        for p, c in diff["by_policy"].items()
    ]
    parts = [
        f"<!doctype html><meta charset='utf-8'><title>{_e(title)}</title><style>{STYLE}</style>",
        f"<h1>{_e(title)}</h1><p>{diff['compared']} uploads decided by both runs.</p>",
        _table(["change", "uploads"], [[c, diff[c]] for c in CATEGORIES]),
        "<h2>By policy</h2>",
        _table(["policy", "newly flagged", "cleared", "still flagged"], policies),
        "<h2>Action changes</h2>",
        _table(["from → to", "uploads"], [list(i) for i in diff["by_action"].items()]),
    ]
    for category, examples in diff["examples"].items():
        if examples:
            parts.append(f"<h2 class='{_e(category)}'>{_e(category)}: examples</h2>")
            parts.extend(_example(e) for e in examples)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(parts), encoding="utf-8")
    return path
