"""Backfill building blocks without services: listings, stable ids, the ledger's done ranges, diff classes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from guardstream.pipeline.backfill.diff import classify
from guardstream.pipeline.backfill.items import Defaults, upload_id_for
from guardstream.pipeline.backfill.ledger import (
    DoneRanges,
    JournalEntry,
    RunConfig,
    RunExists,
    RunLedger,
    UnknownRun,
    done_ranges,
    entry_row,
    summarise,
)
from guardstream.pipeline.backfill.run import BackfillOptions, UsageError, load_pack
from guardstream.pipeline.backfill.sources import SourceError, parse_source
from guardstream.schemas.policy import DEFAULT_PACK
from guardstream.schemas.upload import UploadEvent

ENGINES = ("inprocess", "ray")


def _tree(root: Path) -> Path:
    (root / "b").mkdir(parents=True)
    for name in ("b/z.mp4", "a.jpg", "c.png", "notes.txt"):
        (root / name).write_bytes(b"x")
    return root


def test_folder_listing_is_sorted_media_only_and_ids_are_stable(tmp_path: Path) -> None:
    spec = parse_source(str(_tree(tmp_path / "m")), Defaults())
    first = list(spec.entries())
    assert [json.loads(e.payload)["media_uri"].rsplit("/", 2)[-1] for e in first] == ["a.jpg", "z.mp4", "c.png"]
    assert [e.payload for e in spec.entries()] == [e.payload for e in first]  # deterministic bytes
    event = UploadEvent.model_validate_json(first[1].payload)
    assert event.upload_id == upload_id_for(event.media_uri) and event.media_type.value == "video"


def test_manifest_lines_pass_through_and_unreadable_sources_are_refused(tmp_path: Path) -> None:
    manifest = tmp_path / "events.jsonl"
    manifest.write_bytes(b'{"upload_id": "u-1"}\n\nnot json\n')
    entries = list(parse_source(str(manifest), Defaults()).entries())
    assert [(e.payload, e.upload_id) for e in entries] == [(b'{"upload_id": "u-1"}', "u-1"), (b"not json", None)]
    with pytest.raises(SourceError, match="not a folder"):
        parse_source(str(tmp_path / "absent"), Defaults())
    with pytest.raises(SourceError, match="object store"):
        parse_source("s3://bucket/prefix", Defaults(), store=None)


def test_an_unlistable_folder_is_a_dead_letter_entry(tmp_path: Path) -> None:
    spec = parse_source(str(_tree(tmp_path / "m")), Defaults())
    spec = spec.__class__("folder", str(tmp_path / "m" / "gone"), spec.defaults)
    (entry,) = list(spec.entries())
    assert entry.error and "cannot list folder" in entry.error and entry.payload == b""


def test_done_ranges_compress_the_journal_and_count_duplicates(tmp_path: Path) -> None:
    ledger = RunLedger(tmp_path, "r")
    ledger.create(RunConfig(run_id="r", source="x", policy_pack=str(DEFAULT_PACK)))
    with pytest.raises(RunExists):
        ledger.create(RunConfig(run_id="r", source="x", policy_pack=str(DEFAULT_PACK)))
    w1, w2 = ledger.writer("main"), ledger.writer("main")
    w1.append(entry_row(JournalEntry(g, "verdict", f"u{g}", f"k{g}", f=g == 0)) for g in (0, 1, 2, 5))
    w2.append(entry_row(JournalEntry(g, "skipped", f"u{g}", f"k{g}")) for g in (6, 2))
    done = done_ranges(ledger)
    assert done.ranges == ((0, 2), (5, 6)) and 1 in done and 3 not in done and done.count == 5
    counts = summarise(ledger)
    assert counts["items"] == 5 and counts["duplicates"] == 1 and counts["flagged"] == 1 and counts["skipped"] == 2
    assert DoneRanges().count == 0 and 0 not in DoneRanges()
    with pytest.raises(UnknownRun):
        RunLedger(tmp_path, "nope").config()


@pytest.mark.parametrize(
    ("opts", "message"),
    [
        (BackfillOptions(), "give a SOURCE"),
        (BackfillOptions(source="x", resume="r"), "drop SOURCE"),
        (BackfillOptions(resume="r", policy_pack="p.yaml"), "drop --policy-pack"),
        (BackfillOptions(source="x", workers=0), "--workers"),
        (BackfillOptions(source="x", limit=0), "--limit"),
        (BackfillOptions(source="x", engine="spark"), "unknown --engine"),
    ],
)
def test_bad_flag_combinations_are_usage_errors(opts: BackfillOptions, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        opts.check(ENGINES)


def test_policy_set_routes_everything_to_one_set_and_rejects_unknown_sets() -> None:
    pack = load_pack(str(DEFAULT_PACK), None)
    forced = load_pack(str(DEFAULT_PACK), pack.policy_sets[0].id)
    assert [r.policy_set for r in forced.routing.rules] == [pack.policy_sets[0].id]
    with pytest.raises(UsageError, match="not in"):
        load_pack(str(DEFAULT_PACK), "no-such-set")


def test_diff_classes() -> None:
    def v(action: str, *flagged: str) -> dict[str, object]:
        return {"action": action, "results": [{"policy_id": p, "violated": True} for p in flagged]}

    assert classify(v("allow"), v("block", "c1")) == "newly_flagged"
    assert classify(v("block", "c1"), v("allow")) == "cleared"
    assert classify(v("review", "c1"), v("block", "c1")) == "action_changed"
    assert classify(v("block", "c1"), v("block", "c1")) == "unchanged"
