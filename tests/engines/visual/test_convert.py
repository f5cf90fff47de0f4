"""The TF.js → ONNX converter on nsfwjs' real weights: de-quantisation as TF.js does it, TF padding, refusal of
layers it does not know, and our torch implementation of the same network agreeing with the ONNX model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from guardstream.engines.visual.catalog import MODELS, checked_model_file
from guardstream.engines.visual.keras_onnx import keras_to_onnx, tf_padding
from guardstream.engines.visual.keras_torch import build_torch_model
from guardstream.engines.visual.provision import tarball_path, unpack
from guardstream.engines.visual.runtime import ModelRunner
from guardstream.engines.visual.tfjs import TfjsModel, dequantise, read_tfjs_model


@pytest.fixture(scope="module")
def mobilenet(models_dir: Path) -> TfjsModel:
    root = unpack(tarball_path(models_dir), models_dir / "cache" / "nsfwjs-4.4.0")
    return read_tfjs_model(root / MODELS["nsfw"].package_file)


def test_dequantise_is_min_plus_scale_times_q() -> None:
    spec = {
        "name": "w",
        "shape": [2, 2],
        "dtype": "float32",
        "quantization": {"min": -1.0, "scale": 0.5, "dtype": "uint8"},
    }
    out = dequantise(spec, bytes([0, 1, 2, 255]), 0, 4)
    assert out.dtype == np.float32 and out.tolist() == [[-1.0, -0.5], [0.0, 126.5]]


def test_tf_same_padding_is_asymmetric() -> None:
    assert tf_padding(224, 3, 2, "same") == (0, 1, 112)  # TF pads the extra row at the end
    assert tf_padding(7, 3, 1, "same") == (1, 1, 7)
    assert tf_padding(225, 3, 2, "valid") == (0, 0, 112)


def test_real_weights_read_fully(mobilenet: TfjsModel) -> None:
    assert mobilenet.input_size == 224
    assert len(mobilenet.weights) == 266 and mobilenet.weights["Conv1/kernel"].shape == (3, 3, 3, 32)
    assert all(np.isfinite(w).all() for w in mobilenet.weights.values())


def test_unsupported_layer_is_named(mobilenet: TfjsModel) -> None:
    topology = {"model_config": {"config": {**mobilenet.topology["model_config"]["config"]}}}
    layers = [dict(layer) for layer in topology["model_config"]["config"]["layers"]]
    layers[2] = {**layers[2], "class_name": "LSTM"}
    topology["model_config"]["config"]["layers"] = layers
    with pytest.raises(ValueError, match=f"LSTM \\({layers[2]['config']['name']}\\)"):
        keras_to_onnx(topology, mobilenet.weights, "bad")


def test_torch_module_matches_onnx_model(mobilenet: TfjsModel, models_dir: Path) -> None:
    import torch

    x = np.random.default_rng(3).random((2, 224, 224, 3), dtype=np.float32)
    runner = ModelRunner.open(models_dir, "nsfw")
    onnx_probs = runner.run(x)
    with torch.inference_mode():
        torch_probs = build_torch_model(mobilenet.topology, mobilenet.weights)(torch.from_numpy(x)).numpy()
    assert np.abs(onnx_probs - torch_probs).max() <= 1e-5
    assert np.allclose(onnx_probs.sum(axis=1), 1.0, atol=1e-5)
    assert checked_model_file(models_dir, "nsfw").name == MODELS["nsfw"].file_name


def test_graph_model_converter_refuses_unknown_ops(models_dir: Path) -> None:
    from guardstream.engines.visual.graph_onnx import graph_to_onnx

    root = unpack(tarball_path(models_dir), models_dir / "cache" / "nsfwjs-4.4.0")
    mid = read_tfjs_model(root / MODELS["nsfw-mid"].package_file)
    assert mid.format == "graph-model" and mid.input_size == 224
    nodes = [dict(n) for n in mid.topology["node"]]
    victim = next(n for n in nodes if n["op"] == "AvgPool")
    victim["op"] = "MaxPoolWithArgmax"
    with pytest.raises(ValueError, match=f"MaxPoolWithArgmax \\(node {victim['name']}\\)"):
        graph_to_onnx({**mid.topology, "node": nodes}, mid.weights, "bad")
