"""Bad input at pipeline level: one upload of each of 27 hostile classes (pipeline/chaos/hostile.py) goes through
the running stream; each must end as exactly one dead letter or one verdict, with a reason — no hang, no crash,
nothing lost — and the lake must hold exactly that one row."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

from guardstream.pipeline.chaos.hostile import CLASSES, hostile_uploads
from guardstream.pipeline.chaos.reconcile import lake_outcomes
from guardstream.pipeline.demo import Session, stream_uploads

pytestmark = [pytest.mark.e2e, pytest.mark.kafka, pytest.mark.ray, pytest.mark.slow]


def test_every_hostile_class_ends_as_exactly_one_outcome_with_a_reason(session: Session, media_root: Path) -> None:
    uploads = hostile_uploads(media_root / "hostile", f"hostile-{os.getpid()}")
    assert len(uploads) >= 20
    collector, _, complete = stream_uploads(session, uploads, timeout_s=420)
    assert complete, f"undecided: {sorted({u.upload_id for u in uploads} - collector.decided())}"
    outcomes: dict[str, str] = {}
    for upload in uploads:
        verdicts = collector.verdicts.get(upload.upload_id, [])
        letters = collector.dead_letters.get(upload.upload_id, [])
        assert len(verdicts) + len(letters) == 1, (upload.kind, len(verdicts), len(letters))
        if letters:
            assert letters[0].message and letters[0].stage, upload.kind
            outcomes[upload.kind] = f"dead letter at {letters[0].stage.value}: {letters[0].message[:60]}"
        else:
            assert verdicts[0].action.value != "allow" or verdicts[0].status.value == "ok", upload.kind
            outcomes[upload.kind] = f"verdict {verdicts[0].action.value} ({verdicts[0].status.value})"
        expected = CLASSES[upload.kind][0]
        got = "dead_letter" if letters else "verdict"
        assert expected in ("either", got), (upload.kind, outcomes[upload.kind])
    verdict_rows, letter_rows, _ = lake_outcomes(session.stack.open_lake(), uploads)
    rows = Counter({u.upload_id: verdict_rows[u.upload_id] + letter_rows[u.upload_id] for u in uploads})
    assert all(rows[u.upload_id] == 1 for u in uploads), {u.kind: rows[u.upload_id] for u in uploads}
    for kind, outcome in outcomes.items():
        print(f"{kind:28s} {outcome}")
