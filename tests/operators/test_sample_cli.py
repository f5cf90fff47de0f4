"""`guardstream sample` as a user runs it: one JSON object out, or a one-line JSON error and a non-zero exit."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.operators.frames_clips import make_clip


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("cli") / "clip.mp4", frames=100, fps=25, gop=25)


def guardstream(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "guardstream.pipeline.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("backend", ["pyav", "decord"])
def test_sample_prints_one_json_object(clip: Path, backend: str) -> None:
    done = guardstream("sample", str(clip), "--frames", "4", "--spec", "keyframe", "--backend", backend, "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    out = json.loads(done.stdout)
    assert [f["index"] for f in out["frames"]] == [0, 25, 50, 75]
    assert [f["timestamp_s"] for f in out["frames"]] == [0.0, 1.0, 2.0, 3.0]
    assert out["frames_used"] == 4 and out["frames_decoded"] == 4 and out["decode_s"] > 0


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda d: d / "missing.mp4", "no such file"),
        (lambda d: (d / "noise.mp4").write_bytes(b"\x01" * 999) and d / "noise.mp4", "unrecognised container"),
    ],
)
def test_bad_input_is_a_one_line_json_error(tmp_path: Path, make: object, reason: str) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    done = guardstream("sample", str(path), "--json")
    assert done.returncode != 0
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1 and reason in json.loads(lines[0])["error"]
    assert "Traceback" not in done.stderr


def test_host_not_on_the_allowlist_is_refused() -> None:
    done = guardstream("sample", "http://192.168.1.1/a.mp4", "--json")
    assert done.returncode != 0 and "allowlist" in json.loads(done.stdout)["error"]
