"""`guardstream stack up|status|down [--json]`."""

from __future__ import annotations

import argparse

from guardstream.pipeline.cli import emit, fail
from guardstream.pipeline.settings import Settings
from guardstream.pipeline.stack import LocalStack, StackError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("stack", help="the local stack: tansu broker, Ray head, Iceberg catalog")
    parser.add_argument("action", choices=["up", "status", "down"])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    stack = LocalStack(settings)
    try:
        result = {"up": stack.up, "status": stack.status, "down": stack.down}[args.action]()
    except StackError as exc:
        return fail(str(exc), args.json)
    emit(result, args.json)
    return 0 if args.action != "status" or result["healthy"] else 1
