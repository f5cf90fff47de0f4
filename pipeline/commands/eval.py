"""`guardstream eval MANIFEST --json [--guard G | --plan P] [--predictions OUT.jsonl] [--report OUT.html]
[--fit OUT --eval-on OTHER] [--from-feedback]`: measure a guard (or plan) on a labelled manifest through the
stream's guard code, fit the text guard's calibration on one manifest and report on another, or turn reviewer
decisions from the lake into a manifest. See docs/guards.md ("Evaluation")."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from guardstream.pipeline.cli import emit, fail
from guardstream.pipeline.settings import Settings

DEFAULT_TARGET_PRECISION = 0.9


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("eval", help="measure a guard on a labelled JSONL manifest (metrics, predictions, report)")
    parser.add_argument("manifest", type=Path, help="labelled manifest (with --from-feedback: the manifest to write)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--guard", default=None, help="registered guard name (default: settings guards.name)")
    which.add_argument("--plan", default=None, help="guard plan id from the policy pack's plans")
    parser.add_argument("--policy-set", default="default")
    parser.add_argument("--calibration", type=Path, default=None, help="text guard: calibration file to load")
    parser.add_argument("--predictions", type=Path, default=None, help="write one JSON line per item")
    parser.add_argument("--report", type=Path, default=None, help="write the HTML report (PR curves, confusion)")
    parser.add_argument("--fit", type=Path, default=None, metavar="OUT", help="fit calibration on MANIFEST → OUT")
    parser.add_argument("--eval-on", type=Path, default=None, help="with --fit: the (different) manifest to report on")
    parser.add_argument("--from-feedback", action="store_true", help="write MANIFEST from the lake's feedback table")
    parser.add_argument("--target-precision", type=float, default=DEFAULT_TARGET_PRECISION)
    parser.add_argument("--batch-size", type=int, default=0, help="requests per guard call (0: the guard's limit)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from guardstream.pipeline.evaluate.manifest import ManifestError

    try:
        if args.from_feedback:
            return _from_feedback(args, settings)
        if args.fit is not None:
            return _fit(args, settings)
        return _evaluate(args, settings, args.manifest, args.calibration)
    except (ManifestError, ValueError, FileNotFoundError) as exc:
        return fail(str(exc), args.json)


def _policy_set(settings: Settings, policy_set_id: str) -> Any:
    from guardstream.schemas.policy import load_policy_pack

    return load_policy_pack(settings.guards.policy_pack).policy_set(policy_set_id)


def _evaluate(args: argparse.Namespace, settings: Settings, manifest: Path, calibration: Path | None) -> int:
    from guardstream.pipeline.evaluate.manifest import read_manifest
    from guardstream.pipeline.evaluate.metrics import summarise
    from guardstream.pipeline.evaluate.report import write_report
    from guardstream.pipeline.evaluate.run import evaluate, open_guard, progress_bar, scored_items

    policy_set = _policy_set(settings, args.policy_set)
    policies = [p.id for p in policy_set.policies]
    items = read_manifest(manifest, policies)
    kwargs = {"calibration_path": calibration} if calibration else {}
    guard = open_guard(settings, args.guard, args.plan, kwargs)
    advance, close = progress_bar(len(items), f"eval {guard.name}")
    try:
        run_ = evaluate(guard, items, policy_set, settings, args.batch_size, on_batch=advance)
    finally:
        close()
        guard.close()
    scored = scored_items(items, run_)
    summary = summarise(scored, policies, args.target_precision, run_.elapsed_s)
    if args.predictions:
        args.predictions.write_text("".join(json.dumps(p.to_json()) + "\n" for p in run_.predictions), "utf-8")
    if args.report:
        title = f"{manifest.name} · {run_.guard_name} {run_.guard_version}"
        write_report(args.report, summary, scored, policies, title)
    emit(summary, args.json)
    if run_.failed:
        reasons = sorted({(p.error or "")[:200] for p in run_.failed})
        print(f"guardstream: warning: {len(run_.failed)} of {len(items)} items were not scored (metrics exclude "
              f"them; each is in --predictions with its error): {reasons[:3]}", file=sys.stderr)  # fmt: skip
        return 3
    return 0


def _fit(args: argparse.Namespace, settings: Settings) -> int:
    from guardstream.pipeline.evaluate.fit import fit_text_calibration

    if (args.guard or settings.guards.name) != "text" or args.plan:
        return fail("--fit fits the text guard's calibration: use --guard text", args.json)
    if args.eval_on is None:
        return fail("--fit needs --eval-on OTHER: results are always reported on a manifest not fitted on", args.json)
    written = fit_text_calibration(args.manifest, args.eval_on, args.fit, _policy_set(settings, args.policy_set))
    print(f"guardstream: fitted calibration {written.version} on {args.manifest} → {args.fit}", file=sys.stderr)
    return _evaluate(args, settings, args.eval_on, args.fit)


def _from_feedback(args: argparse.Namespace, settings: Settings) -> int:
    from guardstream.pipeline.evaluate.feedback import manifest_from_feedback

    count = manifest_from_feedback(settings, args.manifest, _policy_set(settings, args.policy_set))
    emit({"manifest": str(args.manifest), "items": count}, args.json)
    return 0 if count else 4
