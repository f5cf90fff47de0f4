"""A small valid verdict for the conflicting-writer fault (ids never collide with the stream's uploads)."""

from __future__ import annotations

import datetime as dt

from guardstream.schemas.verdict import Verdict


def synthetic_verdict(upload_id: str) -> Verdict:
    return Verdict.model_validate(
        {
            "upload_id": upload_id,
            "tenant": "chaos",
            "policy_set_id": "chaos",
            "policy_set_version": "sha256:chaos",
            "guard_name": "chaos-writer",
            "guard_version": "0",
            "action": "allow",
            "status": "ok",
            "results": (),
            "produced_at": dt.datetime.now(dt.UTC),
        }
    )
