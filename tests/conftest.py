"""Shared fixtures: settings on a temporary stack home, and one real local stack per test session."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from guardstream.pipeline.settings import Settings, StackSettings
from guardstream.pipeline.stack import LocalStack
from guardstream.schemas import (
    Evidence,
    GuardRun,
    GuardScore,
    HashMatch,
    Latency,
    PolicyResult,
    UploadEvent,
    Verdict,
)

SHARED_MEDIA = Path(
    os.environ.get("GUARDSTREAM_SHARED_MEDIA", Path(__file__).resolve().parents[2] / "shared" / "media")
)


def settings_for(home: Path, **sections: object) -> Settings:
    """Embedded defaults with the stack home moved to `home` (tests never read the environment)."""
    base = Settings.defaults()
    return base.model_copy(update={"stack": StackSettings(home=home), **sections})


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """tansu + Ray head + Iceberg catalog, started once for the whole session and stopped at the end."""
    stack = LocalStack(settings_for(tmp_path_factory.mktemp("stack")))
    stack.up()
    try:
        yield stack
    finally:
        stack.down()


@pytest.fixture()
def now() -> dt.datetime:
    return dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.UTC)


def make_event(i: int = 0, **overrides: object) -> UploadEvent:
    fields: dict[str, object] = {
        "upload_id": f"up-{i:05d}",
        "tenant": "acme",
        "surface": "feed",
        "media_uri": f"file:///media/{i}.mp4",
        "media_type": "video",
        "title": "holiday clip",
        "created_at": dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.UTC),
    }
    fields.update(overrides)
    return UploadEvent.model_validate(fields)


def make_verdict(i: int = 0, produced_at: dt.datetime | None = None, **overrides: object) -> Verdict:
    """A fully populated verdict (every optional field set), for round trips and drift checks."""
    fields: dict[str, object] = {
        "upload_id": f"up-{i:05d}",
        "tenant": "acme",
        "policy_set_id": "default",
        "policy_set_version": "sha256:0123456789abcdef",
        "guard_name": "text",
        "guard_version": "1.0.0",
        "action": "block",
        "status": "ok",
        "error": "partial OCR",
        "results": (
            PolicyResult(
                policy_id="c4.scam",
                probability=0.93,
                violated=True,
                severity="high",
                explanation='"send 1 btc" at 3.0s matches "fake giveaways"',
                evidence=Evidence(
                    timestamps_s=(3.0,),
                    frame_indices=(90,),
                    ocr_span="send 1 btc",
                    text_field="ocr",
                    hash_match=HashMatch(bank="known-scams", signal_type="pdq", matched_id="m-1", distance=4),
                ),
                guard_scores=(GuardScore(guard="text", probability=0.93),),
            ),
        ),
        "guards_run": (
            GuardRun(guard="text", version="1.0.0", stage=0, policy_ids=("c4.scam",), error=None, latency_ms=18.5),
        ),
        "latency": Latency(fetch_ms=1.0, decode_ms=2.0, hash_ms=0.5, infer_ms=20.0, total_ms=24.0),
        "produced_at": produced_at or dt.datetime(2026, 11, 29, 12, 0, i % 60, tzinfo=dt.UTC),
    }
    fields.update(overrides)
    return Verdict.model_validate(fields)
