"""The evaluation's HTML report: headline numbers, per-policy table, PR curves and a confusion view, drawn as
inline SVG (no scripts, nothing fetched). Item text is never written into the report."""

from __future__ import annotations

import html
import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from guardstream.pipeline.evaluate.metrics import Scored, harmful_recall, pr_curve

PLOT_PX = 220
PAD_PX = 28
BENIGN_ROW = "(benign)"
NONE_COL = "(none)"


def _fmt(value: Any) -> str:
    return "–" if value is None else f"{value:.3f}" if isinstance(value, float) else html.escape(str(value))


def pr_svg(policy: str, items: Sequence[Scored], auprc: float | None) -> str:
    """One policy's precision-recall curve (step plot) with axes, in a PLOT_PX square."""
    scores = [i.probabilities.get(policy, 0.0) for i in items]
    positives = [policy in i.labels for i in items]
    inner = PLOT_PX - 2 * PAD_PX
    parts = [f'<svg width="{PLOT_PX}" height="{PLOT_PX}" viewBox="0 0 {PLOT_PX} {PLOT_PX}" role="img">',
             f'<rect x="{PAD_PX}" y="{PAD_PX}" width="{inner}" height="{inner}" fill="#fafafa" stroke="#999"/>',
             f'<text x="{PLOT_PX / 2}" y="16" text-anchor="middle" font-size="12">{html.escape(policy)} '
             f"AP={_fmt(auprc)}</text>",
             f'<text x="{PLOT_PX / 2}" y="{PLOT_PX - 6}" text-anchor="middle" font-size="10">recall</text>',
             f'<text x="10" y="{PLOT_PX / 2}" font-size="10" transform="rotate(-90 10 {PLOT_PX / 2})" '
             'text-anchor="middle">precision</text>']  # fmt: skip
    if any(positives):
        points = [(0.0, 1.0)] + [(r, p) for _, p, r in pr_curve(scores, positives)]
        xy = []
        for (r0, _), (r1, p1) in itertools.pairwise(points):
            xy += [(r0, p1), (r1, p1)]
        path = " ".join(f"{PAD_PX + r * inner:.1f},{PAD_PX + (1 - p) * inner:.1f}" for r, p in xy)
        parts.append(f'<polyline points="{path}" fill="none" stroke="#1f6feb" stroke-width="2"/>')
    else:
        parts.append(
            f'<text x="{PLOT_PX / 2}" y="{PLOT_PX / 2}" text-anchor="middle" font-size="11">no positives</text>'
        )
    for tick in (0.0, 0.5, 1.0):
        x, y = PAD_PX + tick * inner, PAD_PX + (1 - tick) * inner
        parts.append(f'<text x="{x}" y="{PAD_PX + inner + 12}" font-size="9" text-anchor="middle">{tick:g}</text>')
        parts.append(f'<text x="{PAD_PX - 4}" y="{y + 3}" font-size="9" text-anchor="end">{tick:g}</text>')
    return "".join(parts) + "</svg>"


def confusion_counts(items: Sequence[Scored], policies: Sequence[str]) -> dict[tuple[str, str], int]:
    """(true label or BENIGN_ROW, flagged policy or NONE_COL) → number of items."""
    counts: dict[tuple[str, str], int] = {}
    for item in items:
        rows = sorted(item.labels) or [BENIGN_ROW]
        cols = sorted(item.flagged) or [NONE_COL]
        for row in rows:
            for col in cols:
                counts[(row, col)] = counts.get((row, col), 0) + 1
    return counts


def confusion_svg(items: Sequence[Scored], policies: Sequence[str]) -> str:
    """Heat map: rows are true labels (+ benign), columns the flagged policies (+ none)."""
    rows, cols = [*policies, BENIGN_ROW], [*policies, NONE_COL]
    counts = confusion_counts(items, policies)
    cell, left, top = 26, 130, 120
    peak = max(counts.values(), default=1)
    parts = [f'<svg width="{left + cell * len(cols) + 10}" height="{top + cell * len(rows) + 10}" role="img">']
    for j, col in enumerate(cols):
        x = left + j * cell + cell / 2
        parts.append(f'<text x="{x}" y="{top - 6}" font-size="10" transform="rotate(-60 {x} {top - 6})">'
                     f"{html.escape(col)}</text>")  # fmt: skip
    for i, row in enumerate(rows):
        y = top + i * cell
        parts.append(f'<text x="{left - 6}" y="{y + cell * 0.65}" font-size="10" text-anchor="end">'
                     f"{html.escape(row)}</text>")  # fmt: skip
        for j, col in enumerate(cols):
            n = counts.get((row, col), 0)
            good = row == col or (row == BENIGN_ROW and col == NONE_COL)
            shade = int(235 - 200 * n / peak) if n else 250
            fill = f"rgb({shade},{250 if good else shade},{shade})" if good else f"rgb(250,{shade},{shade})"
            parts.append(f'<rect x="{left + j * cell}" y="{y}" width="{cell - 1}" height="{cell - 1}" fill="{fill}"/>')
            if n:
                parts.append(f'<text x="{left + j * cell + cell / 2}" y="{y + cell * 0.65}" font-size="10" '
                             f'text-anchor="middle">{n}</text>')  # fmt: skip
    return "".join(parts) + "</svg>"


def render_report(summary: dict[str, Any], items: Sequence[Scored], policies: Sequence[str], title: str) -> str:
    per_policy: dict[str, dict[str, Any]] = summary["per_policy"]
    head = {"items": summary["items"], "items_per_s": summary["items_per_s"],
            "exact_set_accuracy": summary["exact_set_accuracy"], "harmful recall (right policy)": harmful_recall(items),
            "micro_f1": summary["micro_f1"], "macro_f1": summary["macro_f1"],
            "oversensitivity": summary["oversensitivity"], "ece": summary["ece"],
            **{f"FPR {tag}": v for tag, v in summary["fpr_by_tag"].items()}}  # fmt: skip
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{_fmt(v)}</td></tr>" for k, v in head.items())
    cols = ("precision", "recall", "f1", "auprc", "support", "flagged")
    table = "".join(
        f"<tr><th>{html.escape(p)}</th>" + "".join(f"<td>{_fmt(per_policy[p][c])}</td>" for c in cols) + "</tr>"
        for p in policies
    )
    curves = "".join(pr_svg(p, items, per_policy[p]["auprc"]) for p in policies)
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title><style>"
        "body{font-family:sans-serif;margin:24px}td,th{padding:2px 8px;text-align:right}th{text-align:left}"
        ".grid{display:flex;flex-wrap:wrap;gap:4px}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><table>{rows}</table>"
        f"<h2>Per policy</h2><table><tr><th></th>{''.join(f'<th>{c}</th>' for c in cols)}</tr>{table}</table>"
        f"<h2>Precision-recall curves</h2><div class='grid'>{curves}</div>"
        "<h2>Confusion view</h2><p>Rows: true labels (an item with two labels counts on both rows); columns: flagged "
        "policies at the review threshold. Green: agreement; red: disagreement.</p>"
        f"{confusion_svg(items, policies)}</body></html>\n"
    )


def write_report(
    path: Path, summary: dict[str, Any], items: Sequence[Scored], policies: Sequence[str], title: str
) -> None:
    path.write_text(render_report(summary, items, policies, title), encoding="utf-8")
