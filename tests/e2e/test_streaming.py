"""The streaming job end to end on the real stack: tansu, Ray Serve (text guard), Beam FnApiRunner, Iceberg.

Every upload must end as exactly one verdict or one dead letter; verdicts must carry the action the guard
gives when called directly; the lake holds exactly one row per verdict; the pipeline survives being killed
at a random point; kcat reads verdicts that validate against the committed JSON Schema.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from guardstream.engines.serve.deploy import reference_guard
from guardstream.operators.kafka_admin import fetched_high_watermarks
from guardstream.operators.kafka_source import prior_attempts
from guardstream.operators.lake import Lake
from guardstream.pipeline.demo import Session, stream_uploads
from guardstream.pipeline.demo_data import SyntheticUpload, generate_uploads
from guardstream.pipeline.kcat import kcat_argv_env
from guardstream.pipeline.runner import OutcomeCollector, verdict_in_process
from guardstream.schemas.generate import load_json_schema
from guardstream.schemas.policy import load_policy_pack

pytestmark = [pytest.mark.e2e, pytest.mark.kafka, pytest.mark.ray, pytest.mark.slow]

EXPECTED_STAGE = {
    "malformed_json": "parse",
    "schema_invalid": "validate",
    "corrupt_media": "probe",
    "missing_media": "fetch",
    "unknown_scheme": "fetch",
}


def _lake(session: Session) -> Lake:
    return session.stack.open_lake()


def _lake_upload_ids(session: Session) -> Counter[str]:
    ids = _lake(session).verdicts().scan(selected_fields=("upload_id",)).to_arrow().column(0).to_pylist()
    return Counter(ids)


def _direct_actions(session: Session, uploads: list[SyntheticUpload]) -> dict[str, str]:
    """The action the same guard gives when called in-process, without Kafka, Beam or Serve."""
    s = session.settings
    pack = load_policy_pack(s.guards.policy_pack)
    guard = reference_guard(s.guards)  # the plan (or single guard) the Serve app runs, in this process
    guard.load()
    actions = {
        u.upload_id: verdict_in_process(guard, u.payload, s, pack).action.value
        for u in uploads
        if u.expected == "verdict"
    }
    guard.close()
    return actions


def _assert_each_decided_once(collector: OutcomeCollector, uploads: list[SyntheticUpload]) -> None:
    for upload in uploads:
        verdicts = collector.verdicts.get(upload.upload_id, [])
        letters = collector.dead_letters.get(upload.upload_id, [])
        if upload.expected == "verdict":
            assert letters == [], (upload.kind, letters)
            assert len({v.idempotency_key for v in verdicts}) == 1, upload.upload_id
            assert all(v == verdicts[0] for v in verdicts), "a replay changed a committed verdict"
        else:
            assert verdicts == [], upload.kind
            assert letters and {dl.stage.value for dl in letters} == {EXPECTED_STAGE[upload.kind]}, upload.kind


@pytest.fixture(scope="module")
def mixed_run(session: Session, media_root: Path) -> tuple[list[SyntheticUpload], OutcomeCollector, bool]:
    """50+ mixed uploads streamed once for the module (later tests read what this run wrote)."""
    uploads = generate_uploads(media_root / "mixed", f"mixed-{os.getpid()}", count=50)
    collector, _, complete = stream_uploads(session, uploads, timeout_s=420)
    return uploads, collector, complete


def test_fifty_mixed_uploads_each_end_as_one_verdict_or_dead_letter(
    session: Session, mixed_run: tuple[list[SyntheticUpload], OutcomeCollector, bool]
) -> None:
    uploads, collector, complete = mixed_run
    assert len(uploads) >= 50
    assert complete, f"undecided: {sorted({u.upload_id for u in uploads} - collector.decided())}"
    _assert_each_decided_once(collector, uploads)
    for upload_id, verdicts in collector.verdicts.items():  # exactly once on the topic in a run without crashes
        assert len(verdicts) == 1, upload_id

    lake_ids = _lake_upload_ids(session)
    for upload in uploads:
        assert lake_ids[upload.upload_id] == (1 if upload.expected == "verdict" else 0), upload.upload_id

    direct = _direct_actions(session, uploads)
    streamed = {u: v[0].action.value for u, v in collector.verdicts.items()}
    assert streamed == direct
    harmful = [u for u in uploads if u.kind == "harmful"]
    assert all(streamed[u.upload_id] != "allow" for u in harmful)
    assert all(v[0].status.value == "ok" for v in collector.verdicts.values())
    assert {v[0].guard_name for v in collector.verdicts.values()} == {session.guard_name}  # the served plan's name


def test_kcat_reads_verdicts_that_validate_against_the_committed_schema(session: Session, mixed_run: Any) -> None:
    bootstrap, topic = session.endpoints.kafka_bootstrap, session.settings.kafka.verdicts_topic
    argv, env = kcat_argv_env("-b", bootstrap, "-t", topic, "-C", "-o", "beginning", "-e", "-q", "-f", "%s\\n")
    lines = subprocess.run(argv, env=env, capture_output=True, check=True, timeout=60).stdout.decode().splitlines()
    assert len(lines) >= 40
    validator = jsonschema.Draft202012Validator(load_json_schema("verdict"))
    for line in lines:
        validator.validate(json.loads(line))


def _stream_process(session: Session, stop_file: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "GUARDSTREAM_STACK__HOME": str(session.stack.home),
        "GUARDSTREAM_LIMITS__ALLOWED_ROOTS": json.dumps([str(r) for r in session.settings.limits.allowed_roots]),
    }
    cmd = [
        sys.executable,
        "-m",
        "guardstream.pipeline.cli",
        "stream",
        "--no-deploy",
        "--json",
        "--stop-file",
        str(stop_file),
    ]
    return subprocess.Popen(cmd, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True)


def _produce_slowly(session: Session, uploads: list[SyntheticUpload], interval_s: float) -> None:
    from guardstream.pipeline.runner import produce_uploads

    for upload in uploads:
        produce_uploads(session.endpoints.kafka_bootstrap, session.settings.kafka.uploads_topic, [upload], {})
        time.sleep(interval_s)


def _wait_until_streaming(log: Path, runs: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while log.read_text(errors="replace").count('"event": "streaming"') < runs and time.monotonic() < deadline:
        time.sleep(0.2)


def test_killed_at_a_random_point_and_restarted_loses_and_duplicates_nothing(
    session: Session, media_root: Path
) -> None:
    uploads = generate_uploads(media_root / "crash", f"crash-{os.getpid()}", count=40, seed=11)
    k = session.settings.kafka
    collector = OutcomeCollector(session.endpoints.kafka_bootstrap, k.verdicts_topic, k.dead_letters_topic, uploads)
    reader = threading.Thread(target=collector.run, daemon=True)
    reader.start()
    stop_file, log = session.stack.home / "crash.stop", session.stack.home / "crash-stream.log"
    rng = random.Random(os.getpid())
    first = _stream_process(session, stop_file, log)
    _wait_until_streaming(log, runs=1, timeout_s=180)
    # Uploads arrive over ~16 s, so the kill below lands while some are read, some decided, some not yet sent.
    producer = threading.Thread(target=_produce_slowly, args=(session, uploads, 0.4), daemon=True)
    producer.start()
    try:
        deadline = time.monotonic() + 240
        while not collector.decided() and time.monotonic() < deadline and first.poll() is None:
            time.sleep(0.1)
        time.sleep(rng.uniform(0.5, 6.0))  # a random point, mid-stream
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(30)
        killed_at = len(collector.decided())
        second = _stream_process(session, stop_file, log)
        try:
            decided_all = collector.done.wait(300)
            _wait_until_streaming(log, runs=2, timeout_s=120)  # a stop before it starts would be removed as stale
        finally:
            stop_file.touch()
            second.wait(120)
        assert decided_all, f"undecided after restart: {len(collector.decided())}/{len(uploads)}"
    finally:
        collector.stop.set()
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    reader.join(10)
    producer.join(10)
    replayed = sum(len(v) - 1 for v in collector.verdicts.values()) + sum(
        len(d) - 1 for d in collector.dead_letters.values()
    )
    print(f"killed after {killed_at}/{len(uploads)} outcomes; {replayed} outcomes re-published after the restart")
    assert killed_at < len(uploads), "the kill landed after everything was decided; nothing was tested"
    _assert_each_decided_once(collector, uploads)
    lake_ids = _lake_upload_ids(session)
    for upload in uploads:
        assert lake_ids[upload.upload_id] == (1 if upload.expected == "verdict" else 0), upload.upload_id


def test_replay_re_produces_dead_lettered_payloads(session: Session, mixed_run: Any) -> None:
    from kafka import KafkaConsumer, TopicPartition

    letters = _lake(session).dead_letters().scan().to_arrow().to_pylist()
    fetch_failures = {bytes(r["payload"]) for r in letters if r["stage"] == "fetch"}
    assert fetch_failures, "the mixed run above dead-letters missing media at fetch"
    bootstrap, topic = session.endpoints.kafka_bootstrap, session.settings.kafka.uploads_topic
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
    ends = fetched_high_watermarks(consumer, partitions)  # not seek_to_end: ListOffsets is wrong on tansu/S3
    env = {**os.environ, "GUARDSTREAM_STACK__HOME": str(session.stack.home)}
    cmd = [sys.executable, "-m", "guardstream.pipeline.cli", "replay", "--stage", "fetch", "--json"]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, check=True).stdout
    assert json.loads(out.strip().splitlines()[-1]) == {
        "selected": len(fetch_failures),
        "replayed": len(fetch_failures),
    }
    for tp, end in ends.items():
        consumer.seek(tp, end)
    replayed: dict[bytes, int] = {}
    deadline = time.monotonic() + 30
    while len(replayed) < len(fetch_failures) and time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=500).values():
            replayed.update((r.value, prior_attempts(r.headers)) for r in records)
    consumer.close()
    assert set(replayed) == fetch_failures
    tries = {bytes(r["payload"]): r["attempt"] for r in letters if r["stage"] == "fetch"}
    assert replayed == tries  # each replay carries the tries so far: its next dead letter counts on from them


def _cli(session: Session, *args: str) -> dict[str, Any]:
    env = {**os.environ, "GUARDSTREAM_STACK__HOME": str(session.stack.home)}
    cmd = [sys.executable, "-m", "guardstream.pipeline.cli", *args, "--json"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_guard_check_and_the_stream_share_guard_version_and_idempotency_key(
    session: Session, mixed_run: tuple[list[SyntheticUpload], OutcomeCollector, bool]
) -> None:
    uploads, collector, _ = mixed_run
    upload = next(u for u in uploads if u.kind == "benign" and u.upload_id in collector.verdicts)
    streamed = collector.verdicts[upload.upload_id][0]
    served = _cli(session, "serve")
    assert served["guard_version"] == session.guard_version == streamed.guard_version
    event = json.loads(upload.payload)
    assert upload.media_path is not None
    checked = _cli(session, "guard-check", str(upload.media_path), "--upload-id", upload.upload_id,
                   "--title", event.get("title", ""), "--description", event.get("description", ""))  # fmt: skip
    assert checked["guard_version"] == streamed.guard_version
    assert checked["idempotency_key"] == streamed.idempotency_key
    assert checked["action"] == streamed.action.value


def test_pipeline_and_guard_metrics_reach_the_ray_metrics_endpoint(
    session: Session, mixed_run: Any, media_root: Path
) -> None:
    """What the dashboards and alert rules (k8s/monitoring/) query is exported by the stack's metrics agent.

    Polled while a short stream runs: Ray's agent drops a gauge (consumer lag) ~30 s after its last set, so
    after the job stops only counters and histograms remain (measured; the absent-lag alert relies on it)."""
    import contextlib
    import re
    import threading

    import ray
    import requests

    uploads = generate_uploads(media_root / "metrics", f"metrics-{os.getpid()}", count=4)
    streaming = threading.Thread(target=stream_uploads, args=(session, uploads, 180), daemon=True)
    streaming.start()

    node = next(n for n in ray.nodes() if n["Alive"])
    url = f"http://{node['NodeManagerAddress']}:{node['MetricsExportPort']}/metrics"
    wanted = {
        "ray_guardstream_stage_outcomes",
        "ray_guardstream_dead_letters",
        "ray_guardstream_verdict_actions",
        "ray_guardstream_sink_write_latency_ms",
        "ray_guardstream_consumer_lag",
        "ray_guardstream_guard_requests",
        "ray_guardstream_guard_latency_ms",
    }
    found: set[str] = set()
    text = ""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and not wanted <= found:
        with contextlib.suppress(requests.RequestException):
            text = requests.get(url, timeout=10).text
            found |= set(re.findall(r"^(ray_guardstream_\w+?)(?:_total|_bucket|_count|_sum)?\{", text, re.M))
        time.sleep(2)
    streaming.join(timeout=200)
    assert wanted <= found, f"missing {wanted - found} at {url}"
    assert not re.search(r"upload_id=|title=", text)
