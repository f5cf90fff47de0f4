"""The stream decides a banked re-upload from the bank, before and without any guard: its only verdict is the
hash stage's (a guard call would have produced a second verdict under the guard's version), it names the bank,
its version and the content id; an unbanked upload in the same run still goes to the guard."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from guardstream.operators.banks import BankStore, NewEntry
from guardstream.operators.hash_verdict import HASH_GUARD_NAME
from guardstream.pipeline.commands.hash import compute_signal
from guardstream.pipeline.demo import Session, stream_uploads
from guardstream.pipeline.demo_banks import reencoded
from guardstream.pipeline.demo_data import SyntheticUpload, _event
from tests.operators.hash_media import texture, write_jpeg

pytestmark = [pytest.mark.e2e, pytest.mark.kafka, pytest.mark.ray, pytest.mark.slow]


def _upload(upload_id: str, path: Path) -> SyntheticUpload:
    payload = json.dumps(_event(upload_id, path.as_uri(), "image", title="photo")).encode()
    return SyntheticUpload(upload_id, payload, "banked", "image", "verdict", None, path)


def test_banked_reupload_is_decided_without_a_guard(session: Session, media_root: Path) -> None:
    s = session.settings
    store = BankStore(session.stack.open_lake(), s.hashing)
    store.ensure_table()
    store.create("e2e-known", "c4.scam", "block")
    original = write_jpeg(texture(11), media_root / "known.jpg")
    signal = compute_signal(str(original), s, s.hashing.bank_seconds_per_hash)
    version = store.add("e2e-known", [NewEntry("known-1", signal, "e2e")]).version
    uploads = [
        _upload("hash-e2e-reupload", reencoded(original, media_root / "reupload.jpg")),
        _upload("hash-e2e-other", write_jpeg(texture(12), media_root / "other.jpg")),
    ]
    collector, _, complete = stream_uploads(session, uploads, timeout_s=240)
    assert complete
    banked = collector.verdicts["hash-e2e-reupload"]
    assert {v.idempotency_key for v in banked} == {banked[0].idempotency_key}  # one verdict: no guard's
    verdict = banked[0]
    assert verdict.guard_name == HASH_GUARD_NAME and verdict.action.value == "block"
    (result,) = verdict.results
    hit = result.evidence.hash_match
    assert hit is not None and (hit.bank, hit.bank_version, hit.matched_id) == ("e2e-known", version, "known-1")
    assert "e2e-known" in (result.explanation or "") and f"v{version}" in (result.explanation or "")
    other = collector.verdicts["hash-e2e-other"]
    assert other and all(v.guard_name != HASH_GUARD_NAME for v in other)
