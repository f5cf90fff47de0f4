"""`guardstream bench <name> [--json]`: benchmarks live in `load_tests/bench_<name>.py`, each exposing
`add_arguments(parser)` and `run(args, settings) -> dict`; the dict is printed and written to
`results/bench_<name>.json`. Registered as a CLI command through the `guardstream.commands` entry point."""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from guardstream.pipeline.cli import emit
from guardstream.pipeline.settings import Settings


def _benchmarks() -> list[str]:
    return sorted(
        m.name.removeprefix("bench_")
        for m in pkgutil.iter_modules([str(Path(__file__).parent)])
        if m.name.startswith("bench_")
    )


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("bench", help="benchmarks; print ratios against an in-run baseline as JSON")
    bench_sub = parser.add_subparsers(dest="bench", required=True)
    for name in _benchmarks():
        module = importlib.import_module(f"guardstream.load_tests.bench_{name}")
        p = bench_sub.add_parser(name, help=(module.__doc__ or "").strip().splitlines()[0] if module.__doc__ else None)
        p.add_argument("--json", action="store_true", help="print one JSON object")
        p.add_argument("--out", type=Path, default=Path("results") / f"bench_{name}.json")
        module.add_arguments(p)
        p.set_defaults(handler=_runner(module))


def _runner(module: ModuleType) -> Callable[[argparse.Namespace, Settings], int]:
    def run(args: argparse.Namespace, settings: Settings) -> int:
        result = module.run(args, settings)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2, default=str))
        emit(result, args.json)
        return 0

    return run
