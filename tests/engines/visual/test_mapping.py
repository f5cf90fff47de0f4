"""The per-policy mapping and the expert fusion: monotone, documented defaults, refittable on labelled data —
driven with the models' real outputs on synthetic frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from guardstream.engines.visual.mapping import (
    SIGNALS,
    Fusion,
    default_fusion,
    expert_signal,
    fit_fusion,
    load_fusions,
    save_fusions,
)
from guardstream.engines.visual.runtime import ModelRunner
from tests.engines.visual.conftest import benign_frames

EXPERTS = ("nsfw", "open-nsfw", "image-safety")


def test_signals_only_for_visual_policies() -> None:
    assert set(SIGNALS) == {"c1.explicit", "c1.suggestive", "c3.violence"}
    assert list(SIGNALS["c3.violence"]) == ["image-safety"]


def test_default_fusion_values() -> None:
    fusion = default_fusion("c1.explicit", EXPERTS)
    assert fusion.experts == EXPERTS and np.isclose(sum(fusion.weights), 1.0)
    assert fusion.weights[0] == pytest.approx(0.5) and fusion.bias == pytest.approx(np.log(0.25))
    assert fusion.fuse(np.full((1, 3), 0.9))[0] == pytest.approx(0.692, abs=1e-3)
    assert fusion.fuse(np.full((1, 3), 0.99))[0] == pytest.approx(0.961, abs=1e-3)
    assert default_fusion("c3.violence", EXPERTS).experts == ("image-safety",)


def test_fusion_is_monotone_in_every_expert() -> None:
    fusion = default_fusion("c1.suggestive", EXPERTS)
    rng = np.random.default_rng(0)
    base = rng.random((200, 3))
    for k in range(3):
        raised = base.copy()
        raised[:, k] = np.minimum(1.0, raised[:, k] + rng.random(200) * 0.3)
        assert np.all(fusion.fuse(raised) >= fusion.fuse(base) - 1e-12)
    with pytest.raises(ValueError, match="monotone"):
        Fusion("c1.explicit", ("nsfw",), (-0.1,))


@pytest.fixture(scope="module")
def real_probabilities(models_dir: Path) -> dict[str, np.ndarray]:
    """The three experts' real outputs on 12 synthetic frames: 6 colour fields and 6 noise frames."""
    rng = np.random.default_rng(1)
    frames = np.concatenate([benign_frames(6), rng.integers(0, 256, (6, 224, 224, 3), dtype=np.uint8)])
    return {e: ModelRunner.open(models_dir, e).predict(frames) for e in EXPERTS}


def test_signals_from_real_outputs(real_probabilities: dict[str, np.ndarray]) -> None:
    nsfw = real_probabilities["nsfw"]
    explicit = expert_signal("nsfw", "c1.explicit", nsfw)
    assert np.allclose(explicit, nsfw[:, 1] + nsfw[:, 3])  # Hentai + Porn
    assert np.all(expert_signal("nsfw", "c1.suggestive", nsfw) >= explicit)  # Sexy added
    assert np.allclose(expert_signal("image-safety", "c3.violence", real_probabilities["image-safety"]),
                       real_probabilities["image-safety"][:, 0])  # fmt: skip


def test_fit_separates_labelled_real_scores(real_probabilities: dict[str, np.ndarray], tmp_path: Path) -> None:
    scores = np.stack([expert_signal(e, "c1.explicit", real_probabilities[e]) for e in EXPERTS], axis=1)
    labels = np.array([0] * 6 + [1] * 6)  # a user's labels: here, "noise frames violate"
    fitted = fit_fusion("c1.explicit", EXPERTS, scores, labels)
    fused = fitted.fuse(scores)
    assert fused[6:].min() > fused[:6].max()  # the fitted mapping ranks every labelled positive first
    assert all(w >= 0 for w in fitted.weights)
    save_fusions([fitted], tmp_path / "fusion.json")
    assert load_fusions(tmp_path / "fusion.json")["c1.explicit"] == fitted
    with pytest.raises(ValueError, match="both 0 and 1"):
        fit_fusion("c1.explicit", EXPERTS, scores, np.zeros(12))
