"""Load ceilings and a soak, same run: the highest sustainable uploads/s with the configured guard plan and with
the no-op guard (the pipeline's own ceiling), latency at 50 % and 90 % of the plan's ceiling, and a soak at 2×
the ceiling (lag grows, RSS stays flat, nothing lost) with the time lag takes to drain after the burst."""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from guardstream.pipeline.settings import Settings

# What each latency step and the soak report (the JSON contract keys among them).
STEP_KEYS = ("target_rate", "achieved_rate", "p50_ms", "p95_ms", "p99_ms", "lost")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--start-rate", type=float, default=0.5, help="first ceiling step (uploads/s)")
    parser.add_argument("--step-s", type=float, default=30.0, help="seconds per ceiling step")
    parser.add_argument("--soak-s", type=float, default=120.0, help="seconds of the 2× soak")
    parser.add_argument("--seed", type=int, default=11)


def _session(settings: Settings, guard: str | None, home: Path) -> Any:
    from guardstream.load_tests.load import session_settings
    from guardstream.pipeline.demo import open_session

    return open_session(session_settings(settings, home, guard))


def _ceiling(settings: Settings, guard: str | None, args: argparse.Namespace) -> tuple[dict[str, Any], Any]:
    from guardstream.load_tests.load import find_ceiling, read_mix

    session = _session(settings, guard, Path(tempfile.mkdtemp(prefix="gs-bench-load-")))
    return find_ceiling(session, args.start_rate, args.step_s, read_mix(None), args.seed), session


def run(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    from guardstream.load_tests.load import MAX_RATE_PER_S, read_mix, run_step
    from guardstream.pipeline.demo import close_session

    noop, session = _ceiling(settings, "noop", args)
    close_session(session)
    plan, session = _ceiling(settings, None, args)
    try:
        ceiling = max(plan["ceiling_uploads_per_s"], args.start_rate / 2)
        mix = read_mix(None)
        at_50 = run_step(session, ceiling * 0.5, args.step_s, False, mix, args.seed + 100)
        at_90 = run_step(session, ceiling * 0.9, args.step_s, False, mix, args.seed + 200)
        soak = run_step(session, min(MAX_RATE_PER_S, ceiling * 2), args.soak_s, False, mix, args.seed + 300)
    finally:
        close_session(session)
    return {
        "guard": plan["guard"],
        "ceiling_uploads_per_s": plan["ceiling_uploads_per_s"],
        "noop_ceiling_uploads_per_s": noop["ceiling_uploads_per_s"],
        "guard_vs_noop_ceiling": round(plan["ceiling_uploads_per_s"] / max(1e-9, noop["ceiling_uploads_per_s"]), 3),
        "at_50pct": {k: at_50[k] for k in STEP_KEYS},
        "at_90pct": {k: at_90[k] for k in STEP_KEYS},
        "soak_2x": {
            **{k: soak[k] for k in (*STEP_KEYS, "max_lag", "duplicated", "dead_letters")},
            "rss_mb_start": soak["rss_mb_start"],
            "rss_mb_peak": soak["rss_mb_peak"],
            "rss_mb_end": soak["rss_mb_end"],
            "lag_recovery_s": soak["drain_s"],  # last upload sent → every upload decided
        },
        "steps": {"plan": plan["steps"], "noop": noop["steps"]},
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
