"""`guardstream eval` end to end through the CLI with the real text guard: the --json contract, predictions,
the HTML report's plots, bad manifests, and --fit (a new versioned model, reported on another manifest)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from guardstream.engines.text.model import StanceModel
from guardstream.pipeline.cli import main

MANIFESTS = Path(__file__).resolve().parents[2] / "load_tests" / "manifests"
KEYS = {"exact_set_accuracy", "per_policy", "micro_f1", "macro_f1", "fpr_by_tag", "oversensitivity", "ece",
        "suggested_thresholds", "items", "items_per_s"}  # fmt: skip


def _subset(tmp_path: Path, name: str, every: int, offset: int = 0) -> Path:
    lines = (MANIFESTS / "text_heldout.jsonl").read_text().splitlines()
    path = tmp_path / name
    path.write_text("\n".join(lines[offset::every]) + "\n")
    return path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, object]]:
    code = main(list(argv))
    out = capsys.readouterr().out.strip().splitlines()
    return code, json.loads(out[-1])


def test_eval_prints_the_contract_writes_predictions_and_a_report_with_plots(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = _subset(tmp_path, "m.jsonl", every=12)
    predictions, report = tmp_path / "p.jsonl", tmp_path / "r.html"
    code, summary = _run(capsys, "eval", str(manifest), "--guard", "text", "--json", "--predictions",
                         str(predictions), "--report", str(report))  # fmt: skip
    assert code == 0 and set(summary) == KEYS and summary["items"] == 15
    rows = [json.loads(line) for line in predictions.read_text().splitlines()]
    assert len(rows) == 15 and set(rows[0]) == {"id", "probabilities", "flagged", "action"}
    assert len(rows[0]["probabilities"]) == 14 and all(r["action"] in {"allow", "label", "age_restrict", "block",
                                                                        "review", "hold"} for r in rows)  # fmt: skip
    html = report.read_text()
    assert html.count("<svg") == 15 and "<polyline" in html and "Confusion view" in html and "<script" not in html


def test_a_bad_manifest_line_fails_before_scoring_and_names_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "x", "title": "a b", "labels": []}\n{"id": "y", "title": "c d", "labels": ["nope"]}\n')
    code, out = _run(capsys, "eval", str(path), "--json")
    assert code == 2 and f"{path}:2:" in str(out["error"]) and "nope" in str(out["error"])


def test_fit_writes_a_new_versioned_model_and_reports_on_another_manifest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fit_on, report_on = _subset(tmp_path, "fit.jsonl", every=2), _subset(tmp_path, "other.jsonl", every=12, offset=1)
    out = tmp_path / "refit.json"
    code, same = _run(capsys, "eval", str(fit_on), "--fit", str(out), "--eval-on", str(fit_on), "--json")
    assert code == 2 and "not fitted on" in str(same["error"]) and not out.exists()
    code, summary = _run(capsys, "eval", str(fit_on), "--fit", str(out), "--eval-on", str(report_on), "--json")
    assert code == 0 and summary["items"] == 15
    model = StanceModel.load(out)
    assert model.version != StanceModel.load().version and str(model.meta["fitted_on"]).startswith("fit.jsonl sha256:")
