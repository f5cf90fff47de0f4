"""`guardstream guard-check FILE [--json]`: sample one image or video, send it through the running guard app
(HTTP ingress from `guardstream serve`) and print the Verdict in the committed schema. The request is built
by the stream's own `guard_request`, and the guard name and version are the ones the loaded replica reported at
deploy time, so a re-check of an upload carries the stream's idempotency key. Any failure after
sampling yields a fail-closed (HOLD) verdict, exactly as the pipeline would produce."""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

from guardstream.pipeline.cli import emit, fail
from guardstream.pipeline.settings import Settings

if TYPE_CHECKING:
    from guardstream.schemas.upload import UploadEvent


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("guard-check", help="one image/video through the running guard app → Verdict JSON")
    parser.add_argument("file", type=Path)
    parser.add_argument("--title", default="")
    parser.add_argument("--description", default="")
    parser.add_argument("--transcript", default="")
    parser.add_argument("--upload-id", default=None, help="re-check a known upload under its own id")
    parser.add_argument("--policy-set", default="default")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from guardstream.engines.serve.client import score_by_http
    from guardstream.operators.aggregate import build_verdict
    from guardstream.operators.envelope import Envelope
    from guardstream.operators.frames import MediaError, SampleSpec, sample_media
    from guardstream.operators.infer import guard_request
    from guardstream.pipeline.commands.serve import serve_state_path
    from guardstream.schemas.policy import load_policy_pack
    from guardstream.schemas.verdict import Latency

    state_path = serve_state_path(settings)
    if not state_path.exists():
        return fail("no guard app deployed: run `guardstream serve` first", args.json)
    state = json.loads(state_path.read_text())
    if "guard_version" not in state:
        return fail("the serve state predates guard versions: run `guardstream serve` again", args.json)
    pack = load_policy_pack(settings.guards.policy_pack)
    policy_set = pack.policy_set(args.policy_set)
    started = time.perf_counter()
    try:
        media = sample_media(args.file, SampleSpec.from_settings(settings.sampling), settings.sampling,
                             settings.limits, trusted_path=True)  # fmt: skip
    except MediaError as exc:
        return fail(f"{exc.stage}: {exc.reason}", args.json)
    decoded = time.perf_counter()
    event = _event(args, media.media_type)
    envelope = Envelope(payload=event.model_dump_json().encode(), event=event).with_policy_set(policy_set.id)
    request = guard_request(envelope, media, pack)
    result = score_by_http(state["url"], [request], timeout_s=settings.guards.request_timeout_s)[0]
    done = time.perf_counter()
    latency = Latency(
        decode_ms=(decoded - started) * 1e3, infer_ms=(done - decoded) * 1e3, total_ms=(done - started) * 1e3
    )
    verdict = build_verdict(event=event, policy_set=policy_set, guard_name=state["guard"],
                            guard_version=state["guard_version"], result=result, latency=latency)  # fmt: skip
    emit(verdict.model_dump(mode="json"), args.json)
    return 0


def _event(args: argparse.Namespace, media_type: str) -> UploadEvent:
    """The upload as the stream would see it: its id (given, or derived from the file's path) and its text."""
    from guardstream.schemas.upload import UploadEvent

    digest = hashlib.sha256(str(args.file.resolve()).encode()).hexdigest()[:16]
    return UploadEvent(
        upload_id=args.upload_id or f"guard-check-{digest}", tenant="local", surface="cli",
        media_uri=args.file.resolve().as_uri(), media_type=media_type, title=args.title,
        description=args.description, transcript=args.transcript, created_at=dt.datetime.now(dt.UTC),
    )  # fmt: skip
