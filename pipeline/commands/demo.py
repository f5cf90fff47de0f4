"""`guardstream demo [--json] [--uploads N]` — what `make demo` runs."""

from __future__ import annotations

import argparse

from guardstream.pipeline.cli import emit
from guardstream.pipeline.settings import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("demo", help="local stack up, synthetic uploads through the pipeline, report, stack down")
    parser.add_argument("--json", action="store_true", help="end with one JSON object")
    parser.add_argument("--uploads", type=int, default=16, help="media uploads to generate (hostile cases are added)")
    parser.add_argument("--timeout-s", type=float, default=600.0)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from guardstream.pipeline.demo import run_demo

    result = run_demo(settings, count=args.uploads, timeout_s=args.timeout_s)
    table = result.pop("table")
    if args.json:
        emit(result, as_json=True)
    else:
        print(table)
        print(f"\nreport: {result['report']}")
        emit({k: v for k, v in result.items() if k != "report"}, as_json=False)
    ok = result["complete"] and result["uploads"] == result["verdicts"] + result["dead_letters"]
    return 0 if ok and result["lake_rows"] == result["verdicts"] else 1
