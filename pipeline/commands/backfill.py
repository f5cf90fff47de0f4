"""`guardstream backfill SOURCE …`: scan stored media with the stream's operators; `backfill status RUN_ID`
and `backfill diff RUN_A RUN_B` inspect runs. SOURCE: a folder, a JSONL manifest of upload events,
`s3://bucket/prefix`, or `lake:SELECT upload_id FROM verdicts WHERE …`."""

from __future__ import annotations

import argparse
from pathlib import Path

from guardstream.pipeline.cli import emit, fail
from guardstream.pipeline.settings import Settings

SUBCOMMANDS = ("status", "diff")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("backfill", help="scan stored media (folder, manifest, s3:// prefix, lake query)",
                            description=__doc__)  # fmt: skip
    parser.add_argument("source", nargs="?", help="SOURCE, or `status RUN_ID`, or `diff RUN_A RUN_B`")
    parser.add_argument("more", nargs="*", help=argparse.SUPPRESS)
    parser.add_argument("--policy-pack", default=None, help="policy pack to score under (default: guards.policy_pack)")
    parser.add_argument("--policy-set", default=None, help="score every upload under this set (no routing)")
    parser.add_argument("--shadow-pack", default=None, help="also score under this pack, recorded as shadow")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--engine", default="inprocess", help="inprocess | ray")
    parser.add_argument("--run-id", default=None)
    parser.add_argument("--resume", default=None, metavar="RUN_ID", help="continue an interrupted run")
    parser.add_argument("--limit", type=int, default=None, help="scan only the first N listed items")
    parser.add_argument("--publish", action="store_true", help="also publish verdicts to the live topics")
    parser.add_argument("--no-deploy", action="store_true", help="use the guard app already running on Ray Serve")
    parser.add_argument("--report", type=Path, default=None, help="diff: write an HTML report here")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar / progress lines")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.source in SUBCOMMANDS:
        return inspect(args, settings)
    if args.more:
        return fail(f"unexpected arguments {args.more}: give one SOURCE", args.json)
    if args.report is not None:
        return fail("--report belongs to `backfill diff`", args.json)
    from guardstream.pipeline.backfill.engines import ENGINES
    from guardstream.pipeline.backfill.ledger import RunExists, UnknownRun
    from guardstream.pipeline.backfill.run import BackfillOptions, UsageError, run_backfill
    from guardstream.pipeline.backfill.sources import SourceError
    from guardstream.schemas.policy import PolicyPackError

    opts = BackfillOptions(
        source=args.source, policy_pack=args.policy_pack, policy_set=args.policy_set, shadow_pack=args.shadow_pack,
        workers=args.workers, engine=args.engine, run_id=args.run_id, resume=args.resume, limit=args.limit,
        publish=args.publish, deploy=not args.no_deploy, progress=not args.no_progress,
    )  # fmt: skip
    try:
        summary = run_backfill(settings, opts, ENGINES)
    except (UsageError, UnknownRun, RunExists, SourceError, PolicyPackError) as exc:
        return fail(str(exc), args.json)
    emit(summary, args.json)
    return 0


def inspect(args: argparse.Namespace, settings: Settings) -> int:
    from guardstream.pipeline.backfill.ledger import UnknownRun

    wanted = 1 if args.source == "status" else 2
    if len(args.more) != wanted:
        usage = "backfill status RUN_ID" if wanted == 1 else "backfill diff RUN_A RUN_B [--report HTML]"
        return fail(f"usage: guardstream {usage}", args.json)
    try:
        if args.source == "status":
            from guardstream.pipeline.backfill.run import run_status

            emit(run_status(settings, args.more[0]), args.json)
        else:
            from guardstream.pipeline.backfill.diff import run_diff

            emit(run_diff(settings, args.more[0], args.more[1], args.report), args.json)
    except UnknownRun as exc:
        return fail(str(exc), args.json)
    return 0
