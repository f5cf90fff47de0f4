"""The demo's outputs for people: a verdict table for the terminal and an HTML report with evidence frames."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from guardstream.schemas.dead_letter import DeadLetter
from guardstream.schemas.verdict import Verdict


def verdict_table(rows: Sequence[tuple[str, Verdict | DeadLetter]]) -> str:
    """Upload, outcome/action, flagged policies, top explanation, latency — one line each."""
    lines = [f"{'upload':<22} {'action':<12} {'flagged':<34} {'latency_ms':>10}  explanation / reason"]
    for upload, outcome in rows:
        if isinstance(outcome, Verdict):
            flagged = sorted(outcome.flagged, key=lambda r: -r.probability)
            names = ",".join(r.policy_id for r in flagged)[:34] or "-"
            top = (flagged[0].explanation or "") if flagged else (outcome.error or "")
            latency = f"{outcome.latency.total_ms:.0f}" if outcome.latency.total_ms is not None else "-"
            lines.append(f"{upload:<22} {outcome.action.value:<12} {names:<34} {latency:>10}  {top[:70]}")
        else:
            lines.append(
                f"{upload:<22} {'DEAD-LETTER':<12} {outcome.stage.value:<34} {'-':>10}  {outcome.message[:70]}"
            )
    return "\n".join(lines)


def _png_data_uri(pixels: np.ndarray) -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _frames_html(frames: Sequence[tuple[np.ndarray, float]]) -> str:
    cells = [
        f'<figure><img src="{_png_data_uri(px)}" width="160"><figcaption>t={ts:.2f}s</figcaption></figure>'
        for px, ts in frames
    ]
    return "".join(cells)


def write_html_report(
    path: Path,
    rows: Sequence[tuple[str, Verdict | DeadLetter, Sequence[tuple[np.ndarray, float]]]],
    title: str = "guardstream demo",
) -> Path:
    """One section per upload: its action, flagged policies with explanations, and the evidence frames.

    Everything that came from an upload (explanations quote on-screen text) is HTML-escaped.
    """
    parts = [
        f"<!doctype html><meta charset='utf-8'><title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;margin:2em}section{border-top:1px solid #ccc;padding:.5em 0}"
        "figure{display:inline-block;margin:4px}.block,.hold{color:#b00}.review{color:#b60}.allow{color:#070}"
        "</style>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    for upload, outcome, frames in rows:
        parts.append(f"<section><h2>{html.escape(upload)}</h2>")
        if isinstance(outcome, Verdict):
            action = outcome.action.value
            version = html.escape(outcome.policy_set_version)
            parts.append(f"<p>action: <b class='{action}'>{action}</b> · policy set {version}")
            parts.append(f" · guard {html.escape(outcome.guard_name)} {html.escape(outcome.guard_version)}</p><ul>")
            for result in sorted(outcome.flagged, key=lambda r: -r.probability):
                explanation = html.escape(result.explanation or "")
                policy = html.escape(result.policy_id)
                parts.append(f"<li><b>{policy}</b> p={result.probability:.2f}: {explanation}</li>")
            parts.append("</ul>")
            if outcome.error:
                parts.append(f"<p>error: {html.escape(outcome.error)}</p>")
        else:
            parts.append(f"<p><b>dead letter</b> at {outcome.stage.value}: {html.escape(outcome.message)}</p>")
        parts.append(_frames_html(frames) + "</section>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(parts), encoding="utf-8")
    return path
