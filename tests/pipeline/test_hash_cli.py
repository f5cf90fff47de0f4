"""`guardstream hash | match | banks …` in-process on a temporary lake: the issue's JSON shapes, one bank
version per change, an import with a bad line writes nothing, and refusals are one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from guardstream.pipeline.cli import main
from tests.operators.hash_media import edited, make_texture_clip, texture, write_jpeg


@pytest.fixture()
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("GUARDSTREAM_STACK__HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GUARDSTREAM_LAKE__WAREHOUSE", f"file://{tmp_path / 'warehouse'}")
    monkeypatch.chdir(tmp_path)

    def run(*argv: str) -> tuple[int, dict]:  # type: ignore[type-arg]
        code = main([*argv, "--json"])
        return code, json.loads(capsys.readouterr().out.strip().splitlines()[-1])

    return run


def test_hash_shapes(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, image = cli("hash", str(write_jpeg(texture(1), tmp_path / "a.jpg")))
    assert code == 0 and set(image) == {"kind", "algorithm", "hash", "quality"} and image["kind"] == "image"
    code, video = cli("hash", str(make_texture_clip(tmp_path / "v.mp4", 1, frames=24)), "--seconds-per-hash", "0.5")
    assert code == 0 and video["kind"] == "video" and video["algorithm"] == "vpdq" and len(video["frames"]) == 2
    assert set(video["frames"][0]) == {"frame", "quality", "hash", "timestamp_s"}
    code, error = cli("hash", str(tmp_path / "missing.jpg"))
    assert code == 2 and "fetch" in error["error"]


@pytest.mark.slow
def test_bank_lifecycle_and_match(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    original = write_jpeg(texture(5), tmp_path / "orig.jpg")
    assert cli("banks", "create", "scams", "--policy", "c4.scam", "--action", "review")[1]["version"] == 1
    code, added = cli("banks", "add", "scams", str(original), "--content-id", "known-1")
    assert code == 0 and added["bank"]["version"] == 2
    code, found = cli("match", str(edited(original, tmp_path / "copy.jpg")))
    assert code == 0 and len(found["matches"]) == 1
    match = found["matches"][0]
    assert (match["bank"], match["bank_version"], match["content_id"], match["policy"]) == (
        "scams",
        2,
        "known-1",
        "c4.scam",
    )
    assert 0 <= match["distance"] <= 31
    assert cli("match", str(write_jpeg(texture(99), tmp_path / "other.jpg")))[1] == {"matches": []}
    code, removed = cli("banks", "remove", "scams", "known-1")
    assert code == 0 and removed["bank"]["version"] == 3
    assert cli("match", str(tmp_path / "copy.jpg"))[1] == {"matches": []}


@pytest.mark.slow
def test_import_is_all_or_nothing(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cli("banks", "create", "known", "--policy", "c1.minors")
    good = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22,100,bridge\n"
    (tmp_path / "bad.txt").write_text(good + "not-a-hash\n")
    code, error = cli("banks", "import", "known", str(tmp_path / "bad.txt"), "--format", "pdq")
    assert code == 2 and error["error"].startswith("line 2:")
    code, shown = cli("banks", "show", "known")
    assert shown["entries"] == [] and shown["bank"]["version"] == 1
    (tmp_path / "good.txt").write_text(good)
    code, imported = cli("banks", "import", "known", str(tmp_path / "good.txt"), "--format", "pdq")
    assert code == 0 and imported["imported"] == 1 and imported["bank"]["version"] == 2
    header = "signal_type,signal_str,collab,category,tags\n"
    csv = header + "pdq,d8f8f0cec0f4a84f8e370a22038f67f0b36a2ed597231e1d72e6b39c4a9c9b22,x,c,t\n"
    (tmp_path / "te.csv").write_text(csv)
    assert cli("banks", "import", "known", str(tmp_path / "te.csv"), "--format", "te-csv")[1]["bank"]["version"] == 3
    listed = cli("banks", "list")[1]["banks"]
    assert [(b["name"], b["entries"], b["action"]) for b in listed] == [("known", 2, "block")]


def test_refusals(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert "unknown policy" in cli("banks", "create", "x", "--policy", "no.such")[1]["error"]
    assert "no bank" in cli("banks", "show", "absent")[1]["error"]
    cli("banks", "create", "x", "--policy", "c4.scam")
    assert "already exists" in cli("banks", "create", "x", "--policy", "c4.scam")[1]["error"]
