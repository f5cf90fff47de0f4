"""Manifest parsing: bad lines fail with the line named; the shipped benchmark manifests parse; the obfuscated
held-out set is the obfuscator's output and the normaliser undoes most of it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from guardstream.engines.text.corpus.build import TRAIN_MANIFEST, train_items
from guardstream.engines.text.normalize import normalize_for_scoring
from guardstream.pipeline.evaluate.manifest import ManifestError, read_manifest
from guardstream.pipeline.evaluate.obfuscate import obfuscate_item
from guardstream.schemas.policy import load_policy_pack

POLICIES = load_policy_pack().policy_set("default").policy_ids
MANIFESTS = Path(__file__).resolve().parents[2] / "load_tests" / "manifests"
HELDOUT = MANIFESTS / "text_heldout.jsonl"


def _write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "m.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


GOOD = '{"id": "a1", "title": "hello there", "labels": []}'


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("{not json", "not JSON"),
        ('["a"]', "expected a JSON object"),
        ('{"id": "b", "title": "x y", "labels": [], "lables": []}', "unknown field(s) ['lables']"),
        ('{"id": "b c", "title": "x y", "labels": []}', "'id' must be"),
        ('{"id": "b", "title": "x y"}', "'labels' must be a list"),
        ('{"id": "b", "title": "x y", "labels": ["c9.nope"]}', "unknown policy id(s) ['c9.nope']"),
        ('{"id": "b", "labels": []}', "neither 'uri' nor any text"),
        ('{"id": "b", "title": 3, "labels": []}', "'title' must be a string"),
        ('{"id": "a1", "title": "x y", "labels": []}', "duplicate id 'a1' (first on line 1)"),
    ],
)
def test_a_bad_line_is_an_error_naming_file_and_line(tmp_path: Path, bad: str, message: str) -> None:
    path = _write(tmp_path, GOOD, "", bad)
    with pytest.raises(ManifestError) as err:
        read_manifest(path, POLICIES)
    assert f"{path}:3:" in str(err.value) and message in str(err.value)


def test_shipped_manifests_parse_with_the_documented_sizes() -> None:
    train = read_manifest(TRAIN_MANIFEST, POLICIES)
    heldout = read_manifest(HELDOUT, POLICIES)
    obfuscated = read_manifest(MANIFESTS / "text_heldout_obfuscated.jsonl", POLICIES)
    assert len(train) == 1059 and len(heldout) == 180 and len(obfuscated) == 180
    assert {p for i in train for p in i.labels} == set(POLICIES) == {p for i in heldout for p in i.labels}
    assert {i.tag for i in heldout} == {"harmful", "hard_benign", "neutral"}
    assert all(not i.labels for i in heldout if i.tag != "harmful")
    texts = {t for i in train for t in (i.title.lower(), i.description.lower()) if t}
    assert not [t for i in heldout for t in (i.title.lower(), i.description.lower()) if t in texts]


def test_training_manifest_is_what_the_phrase_tables_build() -> None:
    rows = [json.loads(line) for line in TRAIN_MANIFEST.read_text().splitlines()]
    assert rows == train_items()


def test_obfuscated_heldout_is_the_obfuscator_output_and_normalises_back() -> None:
    rows = [json.loads(line) for line in HELDOUT.read_text().splitlines()]
    shipped = [json.loads(line) for line in (MANIFESTS / "text_heldout_obfuscated.jsonl").read_text().splitlines()]
    assert [obfuscate_item(r) for r in rows] == shipped
    changed = sum(
        r["description"] != o["description"] or r["title"] != o["title"] for r, o in zip(rows, shipped, strict=True)
    )
    restored = sum(
        normalize_for_scoring(r[f]).lower() == normalize_for_scoring(o[f]).lower()
        for r, o in zip(rows, shipped, strict=True) for f in ("title", "description")
    )  # fmt: skip
    assert changed >= 150 and restored >= 0.9 * 2 * len(rows)
