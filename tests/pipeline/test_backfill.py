"""`guardstream backfill` on the real local stack (tansu, Ray Serve, Iceberg on the object store), through the CLI
in subprocesses as a user runs it: one lake row per item, re-runs score nothing, kill -9 + --resume loses and
duplicates nothing, a changed pack diffs, shadow passes are recorded and never published, bad input dead-letters.

The guard is the registered `noop` guard (probability 0 for every policy): these tests are about the scan's
mechanics, and a pack whose thresholds are 0 for one policy turns every upload into a flag deterministically.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from guardstream.pipeline.stack import LocalStack
from guardstream.schemas.policy import DEFAULT_PACK
from tests.conftest import SHARED_MEDIA

pytestmark = [pytest.mark.kafka, pytest.mark.ray, pytest.mark.e2e]


@pytest.fixture(scope="module")
def env(local_stack: LocalStack) -> dict[str, str]:
    return {**os.environ, "GUARDSTREAM_STACK__HOME": str(local_stack.home), "GUARDSTREAM_GUARDS__NAME": "noop",
            "GUARDSTREAM_GUARDS__PLAN": "", "GUARDSTREAM_SAMPLING__FRAMES": "4"}  # fmt: skip


def cli(env: dict[str, str], *args: str, timeout_s: float = 300, ok: bool = True) -> dict[str, Any]:
    """Run `guardstream ARGS --json` and return its last JSON line."""
    scan = args[0] == "backfill" and args[1] not in ("status", "diff")
    argv = [sys.executable, "-m", "guardstream.pipeline.cli", *args, "--json", *(["--no-progress"] if scan else [])]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout_s)
    assert (done.returncode == 0) == ok, done.stderr[-3000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def generated(folder: Path, count: int) -> Path:
    from guardstream.pipeline.demo_data import generate_uploads

    generate_uploads(folder, folder.name, count)
    return folder


def lake_rows(env: dict[str, str], where: str) -> list[list[Any]]:
    sql = f"SELECT count(*), count(DISTINCT upload_id), count(*) FILTER (shadow) FROM verdicts WHERE {where}"
    return list(cli(env, "lake", "sql", sql)["rows"])


@pytest.fixture(scope="module")
def first_run(env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    folder = generated(tmp_path_factory.mktemp("bf") / "gen", 8)  # images, clips and one corrupt clip
    summary = cli(env, "backfill", str(folder), "--run-id", "first")
    yield {"folder": folder, "summary": summary}


def test_folder_backfill_writes_one_lake_row_per_item(env: dict[str, str], first_run: dict[str, Any]) -> None:
    s = first_run["summary"]
    files = [p for p in first_run["folder"].iterdir() if p.suffix in (".png", ".jpg", ".mp4")]
    assert s["items"] == len(files) == s["scored"] + s["dead_letters"] and s["dead_letters"] >= 1  # the corrupt one
    assert s["skipped"] == 0 and s["duplicates"] == 0
    assert lake_rows(env, "run_id = 'first' AND mode = 'backfill'") == [[s["scored"], s["scored"], 0]]
    status = cli(env, "backfill", "status", "first")
    assert (status["state"], status["done"], status["total"]) == ("done", s["items"], s["items"])


def test_a_rerun_with_the_same_versions_scores_nothing(env: dict[str, str], first_run: dict[str, Any]) -> None:
    again = cli(env, "backfill", str(first_run["folder"]), "--no-deploy")
    assert again["scored"] == 0 and again["skipped"] == first_run["summary"]["scored"]
    assert again["dead_letters"] == first_run["summary"]["dead_letters"]  # failures are retried, and fail again


def test_a_lake_query_rescans_what_earlier_runs_listed(env: dict[str, str], first_run: dict[str, Any]) -> None:
    rooted = {**env, "GUARDSTREAM_LIMITS__ALLOWED_ROOTS": json.dumps([str(first_run["folder"])])}
    s = cli(rooted, "backfill", "lake:SELECT upload_id FROM verdicts WHERE run_id = 'first'", "--no-deploy")
    assert s["items"] == s["skipped"] == first_run["summary"]["scored"] and s["scored"] == 0


def test_a_changed_pack_gives_a_diff_and_an_html_report(
    env: dict[str, str], first_run: dict[str, Any], tmp_path: Path
) -> None:
    pack = yaml.safe_load(DEFAULT_PACK.read_text())
    policy = pack["policy_sets"][0]["policies"][0]
    policy["thresholds"] = {"review": 0.0, "auto_action": 0.0}
    (tmp_path / "changed.yaml").write_text(yaml.safe_dump(pack))
    changed = cli(env, "backfill", str(first_run["folder"]), "--no-deploy", "--run-id", "changed",
                  "--policy-pack", str(tmp_path / "changed.yaml"))  # fmt: skip
    assert changed["scored"] == first_run["summary"]["scored"] == changed["flagged"]  # a new policy-set version
    diff = cli(env, "backfill", "diff", "first", "changed", "--report", str(tmp_path / "diff.html"))
    assert diff["newly_flagged"] == changed["scored"] and diff["cleared"] == 0
    assert diff["by_policy"] == {policy["id"]: {"newly_flagged": changed["scored"]}}
    assert diff["examples"]["newly_flagged"][0]["policies"][0]["violated_b"] is True
    assert "newly_flagged" in (tmp_path / "diff.html").read_text()


def test_shadow_pack_is_recorded_never_published(env: dict[str, str], tmp_path: Path) -> None:
    folder = generated(tmp_path / "shadowed", 3)
    pack = yaml.safe_load(DEFAULT_PACK.read_text())
    pack["policy_sets"][0]["description"] = "shadow candidate"  # any edit is a new policy-set version
    (tmp_path / "shadow.yaml").write_text(yaml.safe_dump(pack))
    s = cli(env, "backfill", str(folder), "--no-deploy", "--run-id", "shadowed", "--publish",
            "--shadow-pack", str(tmp_path / "shadow.yaml"))  # fmt: skip
    assert s["shadow"]["scored"] == s["scored"] > 0
    assert lake_rows(env, "run_id = 'shadowed' AND shadow") == [[s["scored"], s["scored"], s["scored"]]]
    assert cli(env, "backfill", "diff", "shadowed", "shadowed:shadow")["unchanged"] == s["scored"]


def test_kill_9_then_resume_loses_and_duplicates_nothing(env: dict[str, str], tmp_path: Path) -> None:
    base = generated(tmp_path / "seed", 2)
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(24):
        shutil.copy(base / "seed-0000.jpg", folder / f"img-{i:03d}.jpg")
    argv = [sys.executable, "-m", "guardstream.pipeline.cli", "backfill", str(folder), "--run-id", "killed",
            "--no-deploy", "--json", "--no-progress"]  # fmt: skip
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ledger = Path(env["GUARDSTREAM_STACK__HOME"]) / "backfill" / "killed"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and _journaled(ledger) < 4 and proc.poll() is None:
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = cli(env, "backfill", "status", "killed")
    assert before["state"] == "interrupted" and 0 < before["done"] < 24
    resumed = cli(env, "backfill", "--resume", "killed", "--no-deploy")
    assert resumed["items"] == 24 and resumed["duplicates"] == 0 and resumed["resumed"] is True
    assert resumed["scored"] + resumed["skipped"] == 24 and resumed["skipped"] == resumed["recovered"]
    assert lake_rows(env, "run_id = 'killed'") == [[24, 24, 0]]
    assert cli(env, "backfill", "status", "killed")["state"] == "done"


def _journaled(ledger: Path) -> int:
    return sum(p.read_bytes().count(b"\n") for p in ledger.glob("journal-main-*.jsonl"))


def test_bad_input_dead_letters_with_reasons_and_clear_errors(env: dict[str, str], tmp_path: Path) -> None:
    folder = generated(tmp_path / "bad", 2)
    manifest = tmp_path / "events.jsonl"
    good = json.loads(_event_for(folder / "bad-0000.jpg"))
    vanished = {**good, "upload_id": "vanished-1", "media_uri": (folder / "gone.jpg").as_uri()}
    manifest.write_text("\n".join([json.dumps(good), "{not json", json.dumps(vanished)]) + "\n")
    rooted = {**env, "GUARDSTREAM_LIMITS__ALLOWED_ROOTS": json.dumps([str(folder)])}  # a manifest names no root
    s = cli(rooted, "backfill", str(manifest), "--no-deploy", "--run-id", "bad-input")
    assert (s["items"], s["dead_letters"], s["scored"] + s["skipped"]) == (3, 2, 1)
    letters = cli(
        env, "lake", "sql", "SELECT stage, message FROM dead_letters WHERE source_topic LIKE 'backfill:bad-input%'"
    )
    assert sorted(r[0] for r in letters["rows"]) == ["fetch", "parse"] and all(r[1] for r in letters["rows"])
    unknown = cli(env, "backfill", "--resume", "no-such-run", "--no-deploy", ok=False)
    assert "no backfill run 'no-such-run'" in unknown["error"]
    usage = cli(env, "backfill", str(folder), "--resume", "bad-input", ok=False)
    assert "drop SOURCE" in usage["error"]


def _event_for(path: Path) -> str:
    from guardstream.pipeline.backfill.items import Defaults, object_event

    return object_event(path.as_uri(), "image", path.stat().st_mtime, Defaults()).payload.decode()


@pytest.mark.media
@pytest.mark.skipif(not (SHARED_MEDIA / "video").is_dir(), reason="../shared/media/video not present")
def test_shared_media_plus_generated_images(env: dict[str, str], tmp_path: Path) -> None:
    folder = generated(tmp_path / "mixed", 3)
    for clip in sorted((SHARED_MEDIA / "video").glob("*.mp4"))[:3]:
        shutil.copy(clip, folder / clip.name)
    s = cli(env, "backfill", str(folder), "--no-deploy", "--run-id", "mixed")
    assert s["items"] == len(list(folder.iterdir())) == s["scored"] + s["dead_letters"] and s["scored"] >= 5
    assert lake_rows(env, "run_id = 'mixed'") == [[s["scored"], s["scored"], 0]]


@pytest.mark.slow
def test_the_ray_engine_runs_the_same_backfill(env: dict[str, str], tmp_path: Path) -> None:
    folder = generated(tmp_path / "onray", 4)
    s = cli(env, "backfill", str(folder), "--no-deploy", "--run-id", "onray", "--engine", "ray", "--workers", "2")
    files = [p for p in folder.iterdir() if p.suffix in (".png", ".jpg", ".mp4")]
    assert s["items"] == len(files) == s["scored"] + s["dead_letters"] and s["duplicates"] == 0
    assert lake_rows(env, "run_id = 'onray'") == [[s["scored"], s["scored"], 0]]
