"""The `guardstream` command line. Each sub-command lives in `pipeline/commands/<name>.py` and exposes
`register(subparsers)`; the command's handler receives the parsed args and the root Settings. Layers above
`pipeline` (the benchmarks) contribute commands through the `guardstream.commands` entry-point group, so the
CLI never imports them by name."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points
from typing import Any

from guardstream.pipeline.logging import configure_logging
from guardstream.pipeline.settings import Settings

COMMAND_MODULES = (
    "stack",
    "sample",
    "serve",
    "guard_check",
    "stream",
    "demo",
    "lake",
    "replay",
    "models",
    "backfill",
    "eval",
    "banks",
    "hash",
    "match",
    "chaos",
)
COMMAND_ENTRY_POINTS = "guardstream.commands"


def emit(obj: Any, as_json: bool) -> None:
    """Print a result: one JSON object with --json, else indented JSON for people."""
    print(json.dumps(obj, default=str) if as_json else json.dumps(obj, indent=2, default=str))


def fail(reason: str, as_json: bool, code: int = 2) -> int:
    """One-line error (JSON with --json), no traceback; returns the exit status."""
    if as_json:
        print(json.dumps({"error": reason}))
    else:
        print(f"guardstream: error: {reason}", file=sys.stderr)
    return code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="guardstream", description="Content-moderation pipeline.")
    parser.add_argument("--log-level", default="WARNING")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"guardstream.pipeline.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"guardstream.pipeline.commands.{name}":
                continue  # command not built yet
            raise
        module.register(sub)
    for plugin in sorted(entry_points(group=COMMAND_ENTRY_POINTS), key=lambda ep: ep.name):
        plugin.load().register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args.log_level)
    settings = Settings.from_env()
    return int(args.handler(args, settings) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
