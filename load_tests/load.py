"""`guardstream load --rate R --duration D [--ramp] [--mix FILE] [--guard G] [--find-ceiling] --json`: a bounded,
seeded upload mix produced to the local stack (loopback only; it stops by itself) while the streaming job runs,
and what an operator needs to know about it: achieved throughput, event → lake-committed-verdict latency
percentiles, consumer lag over time (per partition from fetch-response high watermarks, never ListOffsets),
dead-letter and HOLD rates, RSS of every stack process, and whether anything was lost."""

from __future__ import annotations

import argparse
import json
import math
import random
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from guardstream.pipeline.settings import Settings

MAX_RATE_PER_S = 50.0
MAX_DURATION_S = 900.0
MAX_UPLOADS = 20_000
DRAIN_TIMEOUT_S = 180.0
SAMPLE_EVERY_S = 1.0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("load", help="bounded load on the local stack: throughput, latency, lag, RSS")
    parser.add_argument("--rate", type=float, required=True, help=f"uploads/s (0 < R <= {MAX_RATE_PER_S:g})")
    parser.add_argument("--duration", type=float, required=True, help=f"seconds (<= {MAX_DURATION_S:g})")
    parser.add_argument("--ramp", action="store_true", help="rise linearly from rate/4 to rate")
    parser.add_argument("--mix", type=Path, default=None, help='JSON weights, e.g. {"benign": 8, "harmful": 1}')
    parser.add_argument("--guard", default=None, help="guard to deploy (e.g. noop for the pipeline's own ceiling)")
    parser.add_argument("--find-ceiling", action="store_true", help="raise the rate until lag grows unbounded")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--home", type=Path, default=None, help="stack home (default: a fresh temp folder)")
    parser.add_argument("--out", type=Path, default=Path("results") / "load.json")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=_handle)


class LoadArgsError(ValueError):
    """Load arguments outside the bounds (rate, duration, count, loopback targets)."""


def check_bounds(rate: float, duration_s: float) -> None:
    """Refuse unbounded or runaway loads before anything starts."""
    if not (0 < rate <= MAX_RATE_PER_S) or not math.isfinite(rate):
        raise LoadArgsError(f"--rate must be in (0, {MAX_RATE_PER_S:g}] uploads/s, got {rate}")
    if not (0 < duration_s <= MAX_DURATION_S) or not math.isfinite(duration_s):
        raise LoadArgsError(f"--duration must be in (0, {MAX_DURATION_S:g}] s, got {duration_s}")
    if rate * duration_s > MAX_UPLOADS:
        raise LoadArgsError(f"rate × duration = {rate * duration_s:.0f} uploads > {MAX_UPLOADS}")


def check_loopback(bootstrap: str) -> None:
    """Load traffic goes to this machine only: every bootstrap host must resolve to a loopback address."""
    import ipaddress
    import socket

    for server in bootstrap.split(","):
        host = server.rsplit(":", 1)[0].strip("[]")
        for info in socket.getaddrinfo(host, None):
            if not ipaddress.ip_address(info[4][0]).is_loopback:
                raise LoadArgsError(f"load targets loopback only; {host!r} resolves to {info[4][0]}")


def read_mix(path: Path | None) -> dict[str, float]:
    """Upload kinds → weights (benign, harmful and the dead-letter kinds of pipeline/demo_data.py)."""
    from guardstream.pipeline.demo_data import DEAD_LETTER_KINDS

    if path is None:
        return {"benign": 8.0, "harmful": 1.5, **{k: 0.1 for k in DEAD_LETTER_KINDS}}
    try:
        mix = {str(k): float(v) for k, v in json.loads(path.read_text()).items()}
    except (OSError, ValueError, AttributeError) as exc:
        raise LoadArgsError(f"--mix {path}: not a JSON object of kind → weight ({exc})") from None
    unknown = set(mix) - {"benign", "harmful", *DEAD_LETTER_KINDS}
    if unknown or not mix or any(w < 0 for w in mix.values()) or sum(mix.values()) <= 0:
        raise LoadArgsError(f"--mix {path}: kinds must be benign, harmful or {sorted(DEAD_LETTER_KINDS)}; weights ≥ 0")
    return mix


def schedule_s(count: int, rate: float, ramp: bool) -> list[float]:
    """Send offsets (s from start) for `count` uploads at `rate`/s, or ramping linearly from rate/4 to rate."""
    if not ramp:
        return [i / rate for i in range(count)]
    duration = count / rate
    start, slope = rate / 4, (rate - rate / 4) / duration  # instantaneous rate r(t) = start + slope·t
    out = []
    for i in range(count):  # invert N(t) = start·t + slope·t²/2
        out.append((-start + math.sqrt(start * start + 2 * slope * i)) / slope if slope else i / start)
    return out


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in (0, 1]); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@dataclass
class Samples:
    """What the samplers saw, once per SAMPLE_EVERY_S."""

    t_s: list[float] = field(default_factory=list)
    lag_uploads: list[int] = field(default_factory=list)  # produced − decided
    partition_lag: list[dict[int, int]] = field(default_factory=list)  # high watermark − committed offset
    rss_mb: list[dict[str, float]] = field(default_factory=list)


def rss_by_group(components: dict[str, int]) -> dict[str, float]:
    """Resident memory (MB) of this process (the load driver and the in-process job, with its decode workers) and
    of each stack component's process tree (`components`: name → pid from `stack status`); Serve replicas are
    reported apart from the rest of Ray."""
    import os

    import psutil

    groups: dict[str, float] = {}
    roots = {"load+job": os.getpid(), **components}
    for role, pid in roots.items():
        try:
            root = psutil.Process(pid)
            tree = [root, *root.children(recursive=True)]
        except psutil.Error:
            continue
        for proc in tree:
            try:
                name = "serve_replicas" if "ServeReplica" in " ".join(proc.cmdline()) else role
                groups[name] = groups.get(name, 0.0) + proc.memory_info().rss / 2**20
            except psutil.Error:
                continue
    return {k: round(v, 1) for k, v in groups.items()}


class LagProbe:
    """Per-partition lag of the job's consumer group: high watermark (from fetch responses) − committed."""

    def __init__(self, bootstrap: str, topic: str, group_id: str, client_config: dict[str, Any]) -> None:
        from kafka import KafkaConsumer, TopicPartition

        self.consumer = KafkaConsumer(
            bootstrap_servers=bootstrap, group_id=group_id, enable_auto_commit=False, fetch_max_bytes=1024,
            max_partition_fetch_bytes=1024, **client_config,
        )  # fmt: skip
        self.partitions = [TopicPartition(topic, p) for p in sorted(self.consumer.partitions_for_topic(topic) or ())]
        self.consumer.assign(self.partitions)

    def sample(self) -> dict[int, int]:
        self.consumer.poll(timeout_ms=200, max_records=1)  # a fetch: it carries each partition's high watermark
        lag = {}
        for tp in self.partitions:
            high = self.consumer.highwater(tp)
            committed = self.consumer.committed(tp) or 0
            if high is not None:
                lag[tp.partition] = max(0, high - committed)
            self.consumer.seek(tp, max(committed, high - 1) if high else committed)
        return lag

    def close(self) -> None:
        self.consumer.close()


def lag_at(samples: Samples, t_s: float) -> int:
    """Uploads produced but not decided at `t_s` after the step started (the last sample at or before it):
    a sustainable rate leaves at most about two seconds of backlog when production stops."""
    before = [lag for t, lag in zip(samples.t_s, samples.lag_uploads, strict=True) if t <= t_s]
    return before[-1] if before else 0


def _handle(args: argparse.Namespace, settings: Settings) -> int:
    from guardstream.pipeline.cli import emit, fail

    try:
        check_bounds(args.rate, args.duration)
        mix = read_mix(args.mix)
    except LoadArgsError as exc:
        return fail(str(exc), args.json)
    result = run_load(args, settings, mix)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str))
    emit(result, args.json)
    return 0 if result.get("error") is None else 1


def with_guard(settings: Settings, guard: str | None) -> Settings:
    """Settings whose Serve app hosts the single guard `guard` (no plan: a plan would ignore the name), or the
    settings unchanged (the configured plan or guard) when `guard` is None."""
    if not guard:
        return settings
    return settings.model_copy(update={"guards": settings.guards.model_copy(update={"name": guard, "plan": None})})


def session_settings(settings: Settings, home: Path, guard: str | None) -> Settings:
    """What a load session runs on: its own stack home (media under it, allowed to fetch) and `with_guard`."""
    from guardstream.pipeline.demo import with_media_root
    from guardstream.pipeline.settings import StackSettings

    settings = with_media_root(settings.model_copy(update={"stack": StackSettings(home=home)}), home / "media")
    return with_guard(settings, guard)


def run_load(args: argparse.Namespace, settings: Settings, mix: dict[str, float]) -> dict[str, Any]:
    """One session (stack up, guard deployed, job running); one step, or steps of rising rate to the ceiling."""
    from guardstream.pipeline.demo import close_session, open_session

    home = args.home or Path(tempfile.mkdtemp(prefix="gs-load-"))
    session = open_session(session_settings(settings, home, args.guard))
    try:
        check_loopback(session.endpoints.kafka_bootstrap)
        if not args.find_ceiling:
            return {
                "guard": session.guard_name,
                **run_step(session, args.rate, args.duration, args.ramp, mix, args.seed),
            }
        return find_ceiling(session, args.rate, args.duration, mix, args.seed)
    except LoadArgsError as exc:
        return {"error": str(exc)}
    finally:
        close_session(session)


def find_ceiling(session: Any, start_rate: float, step_s: float, mix: dict[str, float], seed: int) -> dict[str, Any]:
    """Double the rate while a step stays sustainable (lag back near zero within the step's drain and nothing
    lost); report the highest sustainable rate and every step."""
    steps: list[dict[str, Any]] = []
    rate, best = start_rate, 0.0
    while rate <= MAX_RATE_PER_S:
        step = run_step(session, rate, step_s, False, mix, seed + len(steps))
        steps.append(step)
        if not step["sustainable"]:
            break
        best, rate = step["achieved_rate"], rate * 2
    return {"guard": session.guard_name, "ceiling_uploads_per_s": best, "steps": steps}


def run_step(
    session: Any, rate: float, duration_s: float, ramp: bool, mix: dict[str, float], seed: int
) -> dict[str, Any]:
    """Produce `rate × duration` uploads on schedule while the job runs; sample lag and RSS; drain; report."""
    from guardstream.pipeline.demo_data import generate_uploads
    from guardstream.pipeline.runner import OutcomeCollector
    from guardstream.pipeline.streaming import StreamJob

    count = max(1, round(rate * duration_s))
    uploads = _mixed_uploads(session, f"load-{seed}-{int(time.time())}", count, mix, seed, generate_uploads)
    k, bootstrap = session.settings.kafka, session.endpoints.kafka_bootstrap
    collector = OutcomeCollector(bootstrap, k.verdicts_topic, k.dead_letters_topic, uploads, k.client_config())
    job = StreamJob.create(
        session.settings, session.endpoints, session.guard_version, session.stack.home / "load.stop", session.guard_name
    )
    job.stop_file.unlink(missing_ok=True)
    sent_at: dict[str, float] = {}
    samples, stop = Samples(), threading.Event()
    threading.Thread(target=collector.run, daemon=True).start()
    threading.Thread(
        target=_produce, args=(session, uploads, schedule_s(count, rate, ramp), sent_at), daemon=True
    ).start()
    threading.Thread(target=_sample, args=(session, collector, sent_at, samples, stop), daemon=True).start()
    threading.Thread(
        target=_stopper, args=(collector, job.stop_file, duration_s + DRAIN_TIMEOUT_S), daemon=True
    ).start()
    started = time.time()
    job.run()
    stop.set()
    collector.stop.set()
    return _report(rate, duration_s, uploads, collector, sent_at, samples, started)


def _mixed_uploads(session: Any, run_id: str, count: int, mix: dict[str, float], seed: int, generate: Any) -> list[Any]:
    rng = random.Random(seed)
    pool = generate(session.stack.home / "media" / run_id, run_id, count=min(max(count, 24), 48))  # reused
    by_kind: dict[str, list[Any]] = {}
    for upload in pool:
        by_kind.setdefault(upload.kind, []).append(upload)
    kinds = [k for k in mix if by_kind.get(k)]
    picked = rng.choices(kinds, weights=[mix[k] for k in kinds], k=count)
    from dataclasses import replace

    out = []
    for i, kind in enumerate(picked):  # a fresh upload id per send: each one must end as its own outcome
        base = rng.choice(by_kind[kind])
        upload_id = f"{run_id}-{i:06d}"
        out.append(replace(base, upload_id=upload_id, payload=_with_upload_id(base.payload, upload_id)))
    return out


def _with_upload_id(payload: bytes, upload_id: str) -> bytes:
    """The same event under a new upload id; a payload that is not a JSON object (the malformed kinds) gets the
    id appended, so it stays unique and stays malformed."""
    try:
        event = json.loads(payload)
    except ValueError:
        return payload + f" {upload_id}".encode()
    if not isinstance(event, dict):
        return payload + f" {upload_id}".encode()
    return json.dumps({**event, "upload_id": upload_id}).encode()


def _produce(session: Any, uploads: list[Any], offsets_s: list[float], sent_at: dict[str, float]) -> None:
    from kafka import KafkaProducer

    k = session.settings.kafka
    producer = KafkaProducer(
        bootstrap_servers=session.endpoints.kafka_bootstrap, acks="all", linger_ms=5, **k.client_config()
    )
    start = time.monotonic()
    for upload, offset in zip(uploads, offsets_s, strict=True):
        time.sleep(max(0.0, start + offset - time.monotonic()))
        producer.send(k.uploads_topic, key=upload.upload_id.encode(), value=upload.payload)
        sent_at[upload.upload_id] = time.time()
    producer.flush()
    producer.close()


def _sample(session: Any, collector: Any, sent_at: dict[str, float], samples: Samples, stop: threading.Event) -> None:
    k = session.settings.kafka
    probe = LagProbe(session.endpoints.kafka_bootstrap, k.uploads_topic, k.group_id, k.client_config())
    components = {name: c["pid"] for name, c in session.stack.status()["components"].items()}
    t0 = time.time()
    try:
        while not stop.is_set():
            samples.t_s.append(round(time.time() - t0, 2))
            samples.lag_uploads.append(len(sent_at) - len(collector.decided() & set(sent_at)))
            samples.partition_lag.append(probe.sample())
            samples.rss_mb.append(rss_by_group(components))
            stop.wait(SAMPLE_EVERY_S)
    finally:
        probe.close()


def _stopper(collector: Any, stop_file: Path, timeout_s: float) -> None:
    collector.done.wait(timeout_s)
    time.sleep(1.0)
    stop_file.touch()


def _report(rate: float, duration_s: float, uploads: list[Any], collector: Any, sent_at: dict[str, float],
            samples: Samples, started: float) -> dict[str, Any]:  # fmt: skip
    decided = collector.decided()
    ids = [u.upload_id for u in uploads]
    latencies = [(collector.first_seen_at[u] - sent_at[u]) * 1e3 for u in ids if u in decided and u in sent_at]
    verdicts = [v[0] for u, v in collector.verdicts.items()]
    first_sent, last_seen = (
        min(sent_at.values(), default=started),
        max(collector.first_seen_at.values(), default=started),
    )
    rss_peak = {g: max(s.get(g, 0.0) for s in samples.rss_mb) for g in (samples.rss_mb[0] if samples.rss_mb else {})}
    backlog = lag_at(samples, duration_s)
    return {
        "target_rate": rate,
        "duration_s": duration_s,
        "produced": len(sent_at),
        "achieved_rate": round(len(decided) / max(1e-9, last_seen - first_sent), 3),
        "p50_ms": round(percentile(latencies, 0.50), 1),
        "p95_ms": round(percentile(latencies, 0.95), 1),
        "p99_ms": round(percentile(latencies, 0.99), 1),
        "max_lag": max(samples.lag_uploads, default=0),
        "max_partition_lag": max((sum(p.values()) for p in samples.partition_lag), default=0),
        "lag_series": list(zip(samples.t_s, samples.lag_uploads, strict=True))[:: max(1, len(samples.t_s) // 60)],
        "lost": len(set(ids) - decided),
        "duplicated": sum(len(v) - 1 for v in collector.verdicts.values()),
        "dead_letters": len(collector.dead_letters),
        "dead_letter_rate": round(len(collector.dead_letters) / max(1, len(ids)), 4),
        "hold_rate": round(sum(v.action.value == "hold" for v in verdicts) / max(1, len(verdicts)), 4),
        "rss_mb_start": samples.rss_mb[0] if samples.rss_mb else {},
        "rss_mb_peak": rss_peak,
        "rss_mb_end": samples.rss_mb[-1] if samples.rss_mb else {},
        "lag_at_end_of_production": backlog,
        "drain_s": round(max(0.0, last_seen - max(sent_at.values(), default=last_seen)), 2),
        "sustainable": len(set(ids) - decided) == 0 and backlog <= max(3.0, 2.0 * rate),
    }
