"""`guardstream backfill diff RUN_A RUN_B`: what changed between two runs (e.g. two policy-pack versions), per
upload and per policy, with example uploads and their evidence; optionally an HTML report.

Each run's journal names the idempotency key that decided each upload (scored by it, or skipped because an
earlier run had), so a run that re-scored nothing still compares. `RUN:shadow` names a run's shadow pass. The
join runs in DuckDB over the journals and the lake; rows are streamed, only counters and a few examples are kept.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from guardstream.pipeline.backfill.ledger import RunLedger, journal_view
from guardstream.pipeline.backfill.run import runs_root
from guardstream.pipeline.settings import Settings

CATEGORIES = ("newly_flagged", "cleared", "action_changed", "unchanged")
EXAMPLES_PER_CATEGORY = 5


def _pass(settings: Settings, name: str) -> tuple[RunLedger, str]:
    run_id, _, pass_name = name.partition(":")
    ledger = RunLedger(runs_root(settings), run_id)
    ledger.config()  # UnknownRun when absent
    return ledger, pass_name or "main"


def _decided_sql(ledger: RunLedger, pass_name: str) -> str:
    rows = journal_view(ledger.journals(pass_name))
    return f"SELECT u, any_value(k) AS k FROM ({rows}) WHERE k IS NOT NULL GROUP BY u"


def classify(a: dict[str, Any], b: dict[str, Any]) -> str:
    """One upload's change from verdict a to verdict b."""
    fa, fb = _flagged(a), _flagged(b)
    if not fa and fb:
        return "newly_flagged"
    if fa and not fb:
        return "cleared"
    return "action_changed" if a["action"] != b["action"] else "unchanged"


def _flagged(v: dict[str, Any]) -> set[str]:
    return {r["policy_id"] for r in v["results"] or () if r["violated"]}


def _example(upload_id: str, a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    ra = {r["policy_id"]: r for r in a["results"] or ()}
    rb = {r["policy_id"]: r for r in b["results"] or ()}
    changed = sorted(p for p in set(ra) | set(rb) if _violated(ra.get(p)) != _violated(rb.get(p)))
    shown = changed or sorted(_flagged(b) | _flagged(a))
    return {"upload_id": upload_id, "action_a": a["action"], "action_b": b["action"],
            "policies": [_policy_evidence(p, ra.get(p), rb.get(p)) for p in shown[:6]]}  # fmt: skip


def _violated(r: dict[str, Any] | None) -> bool:
    return bool(r and r["violated"])


def _policy_evidence(policy_id: str, a: dict[str, Any] | None, b: dict[str, Any] | None) -> dict[str, Any]:
    cited = b if _violated(b) else a
    evidence = (cited or {}).get("evidence") or {}
    return {
        "policy_id": policy_id,
        "probability_a": a["probability"] if a else None,
        "probability_b": b["probability"] if b else None,
        "violated_a": _violated(a),
        "violated_b": _violated(b),
        "explanation": (cited or {}).get("explanation"),
        "timestamps_s": list(evidence.get("timestamps_s") or ()),
        "frame_indices": list(evidence.get("frame_indices") or ()),
        "text_field": evidence.get("text_field"),
    }


def diff_runs(con: Any, a: tuple[RunLedger, str], b: tuple[RunLedger, str]) -> dict[str, Any]:
    """Counts per category, per policy and per action change, with examples, over uploads both runs decided."""
    sql = f"""WITH ja AS ({_decided_sql(*a)}), jb AS ({_decided_sql(*b)})
              SELECT ja.u, va.action, va.results, vb.action, vb.results
              FROM ja JOIN jb USING (u) JOIN verdicts va ON va.idempotency_key = ja.k
              JOIN verdicts vb ON vb.idempotency_key = jb.k ORDER BY ja.u"""
    cursor = con.execute(sql)
    counts: Counter[str] = Counter()
    by_policy: dict[str, Counter[str]] = {}
    by_action: Counter[str] = Counter()
    examples: dict[str, list[dict[str, Any]]] = {c: [] for c in CATEGORIES}
    while rows := cursor.fetchmany(1024):
        for upload_id, action_a, results_a, action_b, results_b in rows:
            va, vb = {"action": action_a, "results": results_a}, {"action": action_b, "results": results_b}
            category = classify(va, vb)
            counts[category] += 1
            if action_a != action_b:
                by_action[f"{action_a}->{action_b}"] += 1
            _count_policies(by_policy, va, vb)
            if len(examples[category]) < EXAMPLES_PER_CATEGORY and category != "unchanged":
                examples[category].append(_example(upload_id, va, vb))
    return {**{c: counts[c] for c in CATEGORIES}, "compared": sum(counts.values()),
            "by_policy": {p: dict(c) for p, c in sorted(by_policy.items())}, "by_action": dict(by_action),
            "examples": examples}  # fmt: skip


def _count_policies(by_policy: dict[str, Counter[str]], a: dict[str, Any], b: dict[str, Any]) -> None:
    fa, fb = _flagged(a), _flagged(b)
    for policy_id in fa | fb:
        kind = "newly_flagged" if policy_id not in fa else "cleared" if policy_id not in fb else "still_flagged"
        by_policy.setdefault(policy_id, Counter())[kind] += 1


def run_diff(settings: Settings, name_a: str, name_b: str, report: Path | None = None) -> dict[str, Any]:
    from guardstream.pipeline.stack import LocalStack

    a, b = _pass(settings, name_a), _pass(settings, name_b)
    lake = LocalStack(settings).open_lake()
    lake.ensure_tables()
    result = {"run_a": name_a, "run_b": name_b, **diff_runs(lake.duckdb(), a, b)}
    if report is not None:
        from guardstream.pipeline.backfill.report import write_diff_report

        result["report"] = str(write_diff_report(report, result))
    return result
