"""`guardstream demo`: the whole product on embedded defaults, start to finish, on real components.

Starts the local stack (tansu, Ray head, Iceberg catalog), deploys the guard app on Ray Serve, writes a small
set of synthetic uploads (images and clips with harmful and benign on-screen text, a corrupt file, a missing
file, a malformed event, an event failing the schema), streams them through the Beam job, prints a verdict
table, writes an HTML report with each upload's evidence frames, and stops what it started.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from guardstream.engines.serve.deploy import connect_ray, deploy_guard_app, guard_identity
from guardstream.pipeline.demo_banks import seed_known_content
from guardstream.pipeline.demo_data import SyntheticUpload, generate_uploads
from guardstream.pipeline.report import verdict_table, write_html_report
from guardstream.pipeline.runner import OutcomeCollector, produce_uploads, run_job_until_decided
from guardstream.pipeline.settings import LimitSettings, Settings
from guardstream.pipeline.stack import LocalStack, ray_endpoints
from guardstream.pipeline.streaming import StreamEndpoints, StreamJob
from guardstream.schemas.verdict import Verdict

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Session:
    """A stack with the guard app deployed, ready to run stream jobs against."""

    settings: Settings
    stack: LocalStack
    endpoints: StreamEndpoints
    guard_version: str
    started_stack: bool
    guard_name: str = ""  # what the app serves: "plan:<id>" or a guard's name


def with_media_root(settings: Settings, folder: Path) -> Settings:
    """Allow `file://` media under `folder` (upload URIs are confined to configured roots)."""
    roots = (*settings.limits.allowed_roots, folder.resolve())
    limits = LimitSettings.model_validate({**settings.limits.model_dump(), "allowed_roots": roots})
    return settings.model_copy(update={"limits": limits})


def open_session(settings: Settings, **deploy_overrides: Any) -> Session:
    """Bring the stack up (noting whether this call started it), connect to Ray, deploy the guard app."""
    stack = LocalStack(settings)
    started = not stack.status()["healthy"]
    stack.up()
    address, auth_env = ray_endpoints(settings, stack)
    connect_ray(address, auth_env)
    identity = guard_identity(deploy_guard_app(settings.guards, settings.ray, **deploy_overrides))
    endpoints = StreamEndpoints.resolve(settings, stack, address, auth_env)
    return Session(settings, stack, endpoints, str(identity["guard_version"]), started, str(identity["guard"]))


def close_session(session: Session) -> None:
    import ray
    from ray import serve

    try:
        serve.delete(session.settings.ray.app_name)
    finally:
        ray.shutdown()
        if session.started_stack:
            session.stack.down()


def stream_uploads(
    session: Session, uploads: list[SyntheticUpload], timeout_s: float
) -> tuple[OutcomeCollector, dict[str, float], bool]:
    """Produce the uploads and run the job until each has an outcome; returns (collector, sent_at, complete)."""
    s, k = session.settings, session.settings.kafka
    job = StreamJob.create(s, session.endpoints, session.guard_version, session.stack.home / "stream.stop",
                           session.guard_name)  # fmt: skip
    collector = OutcomeCollector(
        session.endpoints.kafka_bootstrap, k.verdicts_topic, k.dead_letters_topic, uploads, k.client_config()
    )
    sent_at = produce_uploads(session.endpoints.kafka_bootstrap, k.uploads_topic, uploads, k.client_config())
    complete = run_job_until_decided(job, collector, timeout_s)
    return collector, sent_at, complete


def lake_rows_for(session: Session, upload_ids: set[str]) -> int:
    from guardstream.operators.lake import Lake

    lake = Lake.open(
        session.endpoints.with_object_store(session.settings).lake,
        uri=session.endpoints.catalog_uri,
        warehouse=session.endpoints.warehouse,
    )
    ids = lake.verdicts().scan(selected_fields=("upload_id",)).to_arrow().column(0).to_pylist()
    return sum(1 for i in ids if i in upload_ids)


def evidence_frames(settings: Settings, upload: SyntheticUpload, verdict: Verdict) -> list[tuple[Any, float]]:
    """Re-sample the upload as the pipeline did and keep the frames its flagged policies cite."""
    from guardstream.operators.frames import MediaError, SampleSpec, sample_media

    if upload.media_path is None:
        return []
    try:
        sampled = sample_media(
            str(upload.media_path),
            SampleSpec.from_settings(settings.sampling),
            settings.sampling,
            settings.limits,
            trusted_path=True,
        )
    except MediaError:
        return []
    cited = {i for r in verdict.flagged for i in r.evidence.frame_indices}
    frames = sampled.frames
    keep = [n for n, idx in enumerate(frames.indices) if idx in cited] or list(range(min(len(frames), 4)))
    return [(frames.pixels[n], frames.timestamps_s[n]) for n in keep[:6]]


def run_demo(settings: Settings, count: int = 16, timeout_s: float = 600.0) -> dict[str, Any]:
    run_id = f"demo-{secrets.token_hex(3)}"
    folder = settings.stack.home.resolve() / "demo" / run_id
    uploads = generate_uploads(folder, run_id, count)
    settings = with_media_root(settings, folder)
    started = time.monotonic()
    session = open_session(settings)
    try:
        if settings.hashing.enabled:  # one re-upload of banked content, decided by the bank (demo_banks.py)
            uploads += seed_known_content(settings, session.stack, folder, run_id)
        collector, sent_at, complete = stream_uploads(session, uploads, timeout_s)
        lake_rows = lake_rows_for(session, {u.upload_id for u in uploads})
    finally:
        close_session(session)
    rows: list[tuple[str, Any]] = []
    report_rows = []
    for upload in uploads:
        outcome = (collector.verdicts.get(upload.upload_id) or collector.dead_letters.get(upload.upload_id) or [None])[
            0
        ]
        if outcome is None:
            continue
        rows.append((upload.upload_id, outcome))
        frames = evidence_frames(settings, upload, outcome) if isinstance(outcome, Verdict) else []
        report_rows.append((f"{upload.upload_id} ({upload.kind}, {upload.media_type})", outcome, frames))
    report = write_html_report(folder / "report.html", report_rows, title=f"guardstream demo {run_id}")
    return {
        "run_id": run_id,
        "uploads": len(uploads),
        "verdicts": len(collector.verdicts),
        "dead_letters": len(collector.dead_letters),
        "lake_rows": lake_rows,
        "complete": complete,
        "actions": _count(v[0].action.value for v in collector.verdicts.values()),
        "bank_matched": sum(1 for v in collector.verdicts.values() if v[0].guard_name == "hashmatch"),
        "report": str(report),
        "elapsed_s": round(time.monotonic() - started, 1),
        "event_to_outcome_ms": {
            u: round((collector.first_seen_at[u] - sent_at[u]) * 1000) for u in collector.first_seen_at
        },
        "table": verdict_table(rows),
    }


def _spread(values_ms: list[float]) -> dict[str, float]:
    """Min / median / max; the demo sends everything before the job starts, so this includes job start-up."""
    if not values_ms:
        return {}
    ordered = sorted(values_ms)
    return {"min": round(ordered[0]), "p50": round(ordered[len(ordered) // 2]), "max": round(ordered[-1])}


def _count(values: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return counts
