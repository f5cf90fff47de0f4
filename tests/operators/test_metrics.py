"""Metric labels stay bounded and free of payloads: every tag key any guardstream metric declares (pipeline,
guard and plan metrics) is from a fixed vocabulary — never an upload id, title, OCR text or URI."""

from __future__ import annotations

import re
from pathlib import Path

from guardstream.operators.metrics import ALLOWED_TAG_KEYS, DEFINITIONS

ROOT = Path(__file__).resolve().parents[2]
# Serve-side metrics add the guard / plan / route / error-kind / guard-stage vocabularies.
SERVE_TAG_KEYS = ALLOWED_TAG_KEYS | {"guard", "plan", "route", "kind", "stage"}
FORBIDDEN = {"upload_id", "upload", "title", "description", "transcript", "text", "uri", "url", "user", "tenant_user"}


def test_pipeline_metric_tags_are_bounded() -> None:
    for name, (_, description, tags) in DEFINITIONS.items():
        assert set(tags) <= ALLOWED_TAG_KEYS, name
        assert name.startswith("guardstream_")
        assert description.isascii(), f"{name}: Ray refuses non-ASCII metric descriptions"


def test_every_declared_tag_key_in_the_code_is_allowed() -> None:
    declared: set[str] = set()
    for path in [*(ROOT / "engines").rglob("*.py"), *(ROOT / "operators").rglob("*.py")]:
        for group in re.findall(r"tag_keys=\(([^)]*)\)", path.read_text()):
            declared |= set(re.findall(r"\"(\w+)\"", group))
    assert declared, "found no metric declarations to check"
    assert declared <= SERVE_TAG_KEYS, declared - SERVE_TAG_KEYS
    assert not declared & FORBIDDEN
