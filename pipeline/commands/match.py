"""`guardstream match FILE_OR_URI --json`: hash one file as the stream hashes uploads and print every bank
entry it matches — `{"matches": [...]}`, empty when nothing matches."""

from __future__ import annotations

import argparse

from guardstream.pipeline.cli import emit, fail
from guardstream.pipeline.settings import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("match", help="match one image or video against the hash banks")
    parser.add_argument("source", metavar="FILE_OR_URI")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from guardstream.operators.frames import MediaError
    from guardstream.pipeline.commands.banks import open_store
    from guardstream.pipeline.commands.hash import compute_signal

    try:
        signal = compute_signal(args.source, settings, settings.hashing.seconds_per_hash)
    except MediaError as exc:
        return fail(f"{exc.stage.value}: {exc.reason}", args.json)
    try:
        matches = open_store(settings).matcher().match(signal)
    except OSError as exc:  # the lake's catalog or warehouse is unreachable
        return fail(f"lake unavailable: {type(exc).__name__}: {str(exc)[:200]}", args.json)
    emit({"matches": [m.to_json() for m in matches]}, args.json)
    return 0
