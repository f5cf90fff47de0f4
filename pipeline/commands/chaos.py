"""`guardstream chaos run [--faults F,…] [--uploads N] [--seed S] [--json]`: the fault campaign.

For each fault, one at a time: seeded uploads stream through the real job on the local stack, the fault is
injected mid-stream, and every produced upload id is reconciled against verdicts + dead letters in the lake.
One JSON object: {"faults": [{"name", "injected_at", "recovered_s", "lost", "duplicated", "held", …}], "ok"}.
"""

from __future__ import annotations

import argparse
import json
import sys

from guardstream.pipeline.cli import emit, fail
from guardstream.pipeline.settings import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("chaos", help="fault campaign: kill / pause components while uploads stream")
    parser.add_argument("action", choices=["run", "list"])
    parser.add_argument("--faults", default=None, help="comma-separated fault names (default: all; see `list`)")
    parser.add_argument("--uploads", type=int, default=24, help="uploads streamed per fault")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from guardstream.pipeline.chaos import FAULTS, Campaign
    from guardstream.pipeline.chaos.campaign import StreamPlan

    if args.action == "list":
        emit({name: fault.description for name, fault in FAULTS.items()}, args.json)
        return 0
    names = args.faults.split(",") if args.faults else list(FAULTS)
    unknown = [n for n in names if n not in FAULTS]
    if unknown:
        return fail(f"unknown faults {unknown}; known: {sorted(FAULTS)}", args.json)
    reports = []
    with Campaign(settings, StreamPlan(uploads=args.uploads), args.seed) as campaign:
        for name in names:
            reports.append(campaign.run_fault(name).as_dict())
            with (campaign.stack.home / "chaos-results.jsonl").open("a") as out:
                out.write(json.dumps(reports[-1]) + "\n")
            print(json.dumps({"event": "fault_done", **reports[-1]}), file=sys.stderr, flush=True)
    ok = all(r["lost"] == 0 and r["duplicated"] == 0 for r in reports)
    emit({"faults": reports, "ok": ok}, args.json)
    return 0 if ok else 1
