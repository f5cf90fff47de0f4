"""`guardstream load` refuses unbounded or off-machine loads before starting anything, and paces as asked."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest

from guardstream.engines.serve.deploy import reference_guard
from guardstream.load_tests.load import (
    MAX_RATE_PER_S,
    LoadArgsError,
    check_bounds,
    check_loopback,
    percentile,
    read_mix,
    schedule_s,
    with_guard,
)
from guardstream.pipeline.settings import Settings


@pytest.mark.parametrize(
    ("rate", "duration"),
    [(0, 10), (-1, 10), (MAX_RATE_PER_S * 2, 10), (1, 0), (1, 10_000), (float("nan"), 5), (50, 900)],
)
def test_out_of_bounds_is_refused(rate: float, duration: float) -> None:
    with pytest.raises(LoadArgsError):
        check_bounds(rate, duration)


def test_only_loopback_brokers() -> None:
    check_loopback("127.0.0.1:9092,localhost:9093")
    for target in ("10.1.2.3:9092", "127.0.0.1:9092,192.168.1.5:9092"):
        with pytest.raises(LoadArgsError, match="loopback"):
            check_loopback(target)


def test_schedule_paces_and_ramps() -> None:
    flat = schedule_s(20, 4.0, ramp=False)
    assert flat[0] == 0 and flat[-1] == pytest.approx(19 / 4)
    ramp = schedule_s(40, 4.0, ramp=True)
    gaps = [b - a for a, b in itertools.pairwise(ramp)]
    assert all(g > 0 for g in gaps) and gaps[0] > gaps[-1]  # rising rate: shrinking gaps
    assert ramp[-1] > flat[-1]  # starting at rate/4 takes longer than flat out


def test_mix_file_is_checked(tmp_path: Path) -> None:
    good = tmp_path / "mix.json"
    good.write_text(json.dumps({"benign": 3, "harmful": 1}))
    assert read_mix(good) == {"benign": 3.0, "harmful": 1.0}
    for bad in ({"cats": 1}, {"benign": -1}, {}, [1, 2]):
        path = tmp_path / "bad.json"
        path.write_text(json.dumps(bad))
        with pytest.raises(LoadArgsError):
            read_mix(path)


def test_nearest_rank_percentile() -> None:
    assert percentile([5.0, 1.0, 3.0, 2.0, 4.0], 0.5) == 3.0
    assert percentile([1.0, 2.0], 0.99) == 2.0


def test_cli_refuses_before_starting_anything() -> None:
    cmd = [sys.executable, "-m", "guardstream.pipeline.cli", "load", "--rate", "500", "--duration", "5", "--json"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode != 0 and "rate" in json.loads(done.stdout.strip().splitlines()[-1])["error"]


def test_a_named_guard_replaces_the_plan() -> None:
    """`--guard noop` must deploy the no-op guard alone: with the default plan left on, the app would compose the
    plan and ignore the name (the first ceiling run measured the plan twice this way)."""
    base = Settings.defaults()
    assert base.guards.plan is not None
    noop = with_guard(base, "noop")
    assert noop.guards.plan is None and reference_guard(noop.guards).name == "noop"
    assert with_guard(base, None) is base
