"""Backfill throughput and cost on the real local stack, each figure a ratio of two runs in this process: items/s
at 1 and 2 workers (scaling), share skipped on a re-run with unchanged versions (must be 1.0) and its time vs the
first run, peak RSS at N vs 2N items (flat = bounded memory), the Ray engine's time vs in-process on the same
items, and frames decoded ÷ used by the default sampling spec on the shared clips."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from guardstream.pipeline.settings import Settings

SHARED_VIDEO = Path(os.environ.get("GUARDSTREAM_SHARED_MEDIA", Path(__file__).resolve().parents[2] / "shared" /
                                   "media")) / "video"  # fmt: skip


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--items", type=int, default=16, help="items in the base folder (RSS run uses twice that)")
    parser.add_argument("--guard", default=None, help="guard to deploy (default: settings; `noop` = pipeline only)")
    parser.add_argument("--home", type=Path, default=None, help="stack home (default: a fresh temp folder)")


def media_folder(folder: Path, items: int) -> Path:
    """`items` real media files: generated images and clips with on-screen text (no dead letters)."""
    from guardstream.pipeline.demo_data import generate_uploads

    seed = folder.parent / f"{folder.name}-seed"
    made = [u.media_path for u in generate_uploads(seed, "seed", max(4, items)) if u.expected == "verdict"]
    folder.mkdir(parents=True)
    for i in range(items):
        source = made[i % len(made)]
        assert source is not None
        shutil.copy(source, folder / f"item-{i:05d}{source.suffix}")
    return folder


def backfill(env: dict[str, str], *args: str) -> dict[str, Any]:
    """One CLI run in a child process: its summary, wall time and peak RSS (from wait4)."""
    argv = [sys.executable, "-m", "guardstream.pipeline.cli", "backfill", *args, "--json", "--no-progress"]
    started = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"backfill {args} exited {proc.returncode}: {out[-500:]}")
    summary: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return {**summary, "wall_s": time.perf_counter() - started, "peak_rss_mb": usage.ru_maxrss / 1024}


def decoded_per_used(settings: Settings) -> dict[str, float]:
    from guardstream.operators.frames import SampleSpec, sample_media

    sampling = settings.sampling.model_copy(update={"isolate": False})
    ratios = {}
    for clip in sorted(SHARED_VIDEO.glob("*.mp4")):
        media = sample_media(clip, SampleSpec.from_settings(sampling), sampling, settings.limits, trusted_path=True)
        ratios[clip.name] = media.frames_decoded / max(media.frames_used, 1)
    return ratios


def run(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    from guardstream.pipeline.stack import LocalStack

    home = args.home or Path(tempfile.mkdtemp(prefix="gs-bench-backfill-"))
    env = {**os.environ, "GUARDSTREAM_STACK__HOME": str(home)}
    if args.guard:
        env.update({"GUARDSTREAM_GUARDS__NAME": args.guard, "GUARDSTREAM_GUARDS__PLAN": ""})
    stack = LocalStack(settings.model_copy(update={"stack": settings.stack.model_copy(update={"home": home})}))
    started_stack = not stack.status()["healthy"]
    stack.up()
    n = args.items
    media = home / "media" / time.strftime("%Y%m%d-%H%M%S")  # new paths, so new upload ids: nothing decided yet
    try:
        folders = {k: media_folder(media / k, n) for k in ("one", "two", "ray")}
        big = media_folder(media / "big", 2 * n)
        backfill(env, str(media_folder(media / "warm", 2)))  # deploys the guard app, warms the lake
        one = backfill(env, str(folders["one"]), "--no-deploy")
        rerun = backfill(env, str(folders["one"]), "--no-deploy")
        two = backfill(env, str(folders["two"]), "--no-deploy", "--workers", "2")
        doubled = backfill(env, str(big), "--no-deploy")
        on_ray = backfill(env, str(folders["ray"]), "--no-deploy", "--engine", "ray")
    finally:
        if started_stack:
            stack.down()
    ratios = decoded_per_used(settings) if SHARED_VIDEO.is_dir() else {}
    if one["scored"] != n or two["scored"] != n or on_ray["scored"] != n:
        raise RuntimeError("a measured run skipped items: the bench needs media no earlier run decided")
    rate = {w: r["items"] / r["elapsed_s"] for w, r in ((1, one), (2, two))}
    return {
        "items": n,
        "items_per_s_1_worker": round(rate[1], 3),
        "items_per_s_2_workers": round(rate[2], 3),
        "scaling_2_vs_1": round(rate[2] / rate[1], 3),
        "rerun_skipped_share": round(rerun["skipped"] / max(rerun["items"], 1), 3),
        "rerun_time_vs_first": round(rerun["elapsed_s"] / one["elapsed_s"], 3),
        "peak_rss_mb_n": round(one["peak_rss_mb"], 1),
        "peak_rss_mb_2n": round(doubled["peak_rss_mb"], 1),
        "peak_rss_2n_vs_n": round(doubled["peak_rss_mb"] / one["peak_rss_mb"], 3),
        "ray_engine_time_vs_inprocess": round(on_ray["elapsed_s"] / one["elapsed_s"], 3),
        "decoded_per_used_max": round(max(ratios.values()), 3) if ratios else None,
        "decoded_per_used": {k: round(v, 3) for k, v in ratios.items()},
        "sampling_spec": settings.sampling.spec,
        "guard_version": one["guard_version"],
        "runs": {"one": one, "rerun": rerun, "two": two, "doubled": doubled, "ray": on_ray},
    }
