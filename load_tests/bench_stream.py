"""End-to-end verdicts/s through Kafka → Beam → Ray Serve → lake + Kafka, against the same guard called
directly in a loop (decode + score, in-process) in the same run; event-to-verdict latency percentiles."""

from __future__ import annotations

import argparse
import math
import statistics
import threading
import time
from pathlib import Path
from typing import Any

from guardstream.pipeline.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--uploads", type=int, default=48, help="uploads in the throughput burst")
    parser.add_argument("--paced", type=int, default=24, help="uploads sent one by one for latency")
    parser.add_argument("--pace-s", type=float, default=1.0, help="gap between paced uploads")
    parser.add_argument("--home", type=Path, default=None, help="stack home (default: a fresh temp folder)")


def _media_uploads(folder: Path, run_id: str, count: int) -> list[Any]:
    from guardstream.pipeline.demo_data import generate_uploads

    return [u for u in generate_uploads(folder, run_id, count) if u.expected == "verdict"][:count]


def _direct_rate(settings: Settings, uploads: list[Any]) -> dict[str, float]:
    """The same guard, in this process: each upload through the job's steps in a loop (no Kafka, Beam or Serve)."""
    from guardstream.engines.serve.deploy import reference_guard
    from guardstream.pipeline.runner import verdict_in_process
    from guardstream.schemas.policy import load_policy_pack

    pack = load_policy_pack(settings.guards.policy_pack)
    guard = reference_guard(settings.guards)
    guard.load()
    guard.warmup()
    start = time.perf_counter()
    for upload in uploads:
        verdict_in_process(guard, upload.payload, settings, pack)
    elapsed = time.perf_counter() - start
    guard.close()
    return {"direct_verdicts_per_s": len(uploads) / elapsed, "direct_s": elapsed}


def _drive(session: Any, collector: Any, warmup: list[Any], burst: list[Any], paced: list[Any], pace_s: float,
           stop_file: Path, marks: dict[str, float]) -> None:  # fmt: skip
    from guardstream.pipeline.runner import produce_uploads

    k, bootstrap = session.settings.kafka, session.endpoints.kafka_bootstrap
    produce_uploads(bootstrap, k.uploads_topic, warmup, k.client_config())
    _wait_for(collector, warmup, 300)
    marks["burst_start"] = time.time()
    marks.update({f"sent:{u}": t for u, t in produce_uploads(bootstrap, k.uploads_topic, burst, {}).items()})
    _wait_for(collector, burst, 600)
    marks["burst_end"] = max(collector.first_seen_at[u.upload_id] for u in burst)
    for upload in paced:
        marks.update({f"sent:{u}": t for u, t in produce_uploads(bootstrap, k.uploads_topic, [upload], {}).items()})
        time.sleep(pace_s)
    _wait_for(collector, paced, 300)
    stop_file.touch()


def _wait_for(collector: Any, uploads: list[Any], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    ids = {u.upload_id for u in uploads}
    while not ids <= collector.decided() and time.monotonic() < deadline:
        time.sleep(0.05)


def run(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    import tempfile

    from guardstream.pipeline.demo import close_session, open_session, with_media_root
    from guardstream.pipeline.runner import OutcomeCollector
    from guardstream.pipeline.settings import StackSettings
    from guardstream.pipeline.streaming import StreamJob

    home = args.home or Path(tempfile.mkdtemp(prefix="gs-bench-stream-"))
    folder = home / "media"
    settings = with_media_root(settings.model_copy(update={"stack": StackSettings(home=home)}), folder)
    run_id = f"bench-{int(time.time())}"
    uploads = _media_uploads(folder, run_id, 4 + args.uploads + args.paced)
    warmup, burst, paced = uploads[:4], uploads[4 : 4 + args.uploads], uploads[4 + args.uploads :]
    direct = _direct_rate(settings, burst)

    session = open_session(settings)
    marks: dict[str, float] = {}
    try:
        k = settings.kafka
        collector = OutcomeCollector(session.endpoints.kafka_bootstrap, k.verdicts_topic, k.dead_letters_topic, uploads)
        job = StreamJob.create(
            settings, session.endpoints, session.guard_version, home / "bench.stop", session.guard_name
        )
        job.stop_file.unlink(missing_ok=True)
        threading.Thread(target=collector.run, daemon=True).start()
        driver = threading.Thread(
            target=_drive,
            args=(session, collector, warmup, burst, paced, args.pace_s, job.stop_file, marks),
            daemon=True,
        )
        driver.start()
        job.run()
        collector.stop.set()
    finally:
        close_session(session)
    e2e_rate = len(burst) / (marks["burst_end"] - marks["burst_start"])
    seen = [u.upload_id for u in paced if u.upload_id in collector.first_seen_at]
    latencies = sorted((collector.first_seen_at[u] - marks[f"sent:{u}"]) * 1000 for u in seen)
    return {
        "e2e_vs_direct": round(e2e_rate / direct["direct_verdicts_per_s"], 3),
        "e2e_verdicts_per_s": round(e2e_rate, 3),
        "direct_verdicts_per_s": round(direct["direct_verdicts_per_s"], 3),
        "p50_ms": round(statistics.median(latencies), 1),
        "p95_ms": round(latencies[max(0, math.ceil(0.95 * len(latencies)) - 1)], 1),  # nearest rank
        "burst_uploads": len(burst),
        "paced_uploads": len(paced),
        "paced_decided": len(seen),
        "pace_s": args.pace_s,
        "decided": len(collector.decided()),
        "guard": settings.guards.name,
        "guard_version": session.guard_version,
        "target_e2e_vs_direct": 0.8,
    }
