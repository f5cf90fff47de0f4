"""Tiny random checkpoints (both backbone families), generated once per session into a temp folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from guardstream.engines.base import Frames, GuardRequest
from guardstream.engines.safewatch.config import SafeWatchConfig
from guardstream.engines.safewatch.engine import SafeWatchEngine
from guardstream.engines.safewatch.families import load_backbone
from guardstream.engines.safewatch.make_checkpoint import make_checkpoint
from guardstream.schemas.policy import Policy, load_policy_pack


@pytest.fixture(scope="session")
def tiny_checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("safewatch")
    return {family: make_checkpoint(root / family, "tiny", family) for family in ("qwen2_5_vl", "qwen2_vl")}


@pytest.fixture(scope="session")
def backbones(tiny_checkpoints: dict[str, Path]) -> dict[str, object]:
    return {family: load_backbone(path) for family, path in tiny_checkpoints.items()}


def make_engine(backbones: dict[str, object], family: str = "qwen2_5_vl", **settings: object) -> SafeWatchEngine:
    return SafeWatchEngine(backbones[family], SafeWatchConfig(**settings))  # type: ignore[arg-type]


def policies(n: int = 4) -> tuple[Policy, ...]:
    return load_policy_pack().policy_sets[0].policies[:n]


def frames(n: int = 4, edge: int = 32, seed: int = 0) -> Frames:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (n, edge, edge, 3), dtype=np.uint8)
    return Frames(pixels, tuple(float(i) * 0.5 for i in range(n)), tuple(i * 15 for i in range(n)))


def request(
    pols: tuple[Policy, ...] | None = None, n_frames: int = 4, seed: int = 0, rid: str = "u1", version: str = "set-v1"
) -> GuardRequest:
    return GuardRequest(rid, frames(n_frames, seed=seed), pols or policies(), policy_set_version=version)
