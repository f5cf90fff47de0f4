"""Convert a TF.js Keras-layers model (functional topology + float32 weights) to ONNX.

Our own converter: nothing but the `onnx` helper API. Tensors stay NCHW inside the graph; the model input
`input` is NHWC float32 in [0, 1] (exactly what the Keras model takes after nsfwjs divides by 255) and is
transposed once. TF's asymmetric "same" padding is written as explicit pads from the static shapes. The layer
set is what nsfwjs' MobileNetV2 and InceptionV3 use; anything else is refused with the layer's name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
INPUT_NAME = "input"
OUTPUT_NAME = "probabilities"
Config = dict[str, Any]


@dataclass(frozen=True)
class Tensor:
    """A graph value and its static shape without the batch axis: (C, H, W) for images, (D,) for vectors."""

    name: str
    shape: tuple[int, ...]


class _Graph:
    def __init__(self, weights: Mapping[str, np.ndarray]) -> None:
        self.weights = weights
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []

    def const(self, name: str, value: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(self, op: str, inputs: list[str], output: str, **attrs: Any) -> str:
        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    def weight(self, layer: str, param: str) -> np.ndarray:
        key = f"{layer}/{param}"
        if key not in self.weights:
            raise KeyError(f"the weights manifest has no {key!r}")
        return self.weights[key]


def tf_padding(size: int, kernel: int, stride: int, padding: str) -> tuple[int, int, int]:
    """TensorFlow's padding rule for one spatial axis: (pad before, pad after, output size)."""
    if padding == "valid":
        return 0, 0, (size - kernel) // stride + 1
    if padding != "same":
        raise ValueError(f"padding {padding!r} is not supported")
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2, out


def _window(x: Tensor, cfg: Config, kernel: list[int]) -> tuple[list[int], int, int]:
    top, bottom, out_h = tf_padding(x.shape[1], kernel[0], cfg["strides"][0], cfg["padding"])
    left, right, out_w = tf_padding(x.shape[2], kernel[1], cfg["strides"][1], cfg["padding"])
    return [top, left, bottom, right], out_h, out_w


def _activation(g: _Graph, name: str, kind: str, x: str) -> str:
    if kind == "linear":
        return x
    if kind == "relu":
        return g.node("Relu", [x], f"{name}_relu")
    if kind == "softmax":
        return g.node("Softmax", [x], f"{name}_softmax", axis=-1)
    raise ValueError(f"layer {name}: activation {kind!r} is not supported")


def _conv(g: _Graph, cfg: Config, x: Tensor, depthwise: bool) -> Tensor:
    name = cfg["name"]
    if list(cfg.get("dilation_rate", [1, 1])) != [1, 1]:
        raise ValueError(f"layer {name}: dilated convolution is not supported")
    if depthwise:  # Keras (kh, kw, in, multiplier) -> ONNX (in * multiplier, 1, kh, kw), one group per channel
        k = g.weight(name, "depthwise_kernel")
        kh, kw, cin, mult = k.shape
        w, group, cout = k.transpose(2, 3, 0, 1).reshape(cin * mult, 1, kh, kw), cin, cin * mult
    else:  # Keras (kh, kw, in, out) -> ONNX (out, in, kh, kw)
        k = g.weight(name, "kernel")
        w, group, cout = k.transpose(3, 2, 0, 1), 1, int(k.shape[3])
    pads, out_h, out_w = _window(x, cfg, list(cfg["kernel_size"]))
    inputs = [x.name, g.const(f"{name}_w", w)]
    if cfg.get("use_bias"):
        inputs.append(g.const(f"{name}_b", g.weight(name, "bias")))
    attrs = {"kernel_shape": list(cfg["kernel_size"]), "strides": list(cfg["strides"]), "pads": pads, "group": group}
    y = g.node("Conv", inputs, name, **attrs)
    return Tensor(_activation(g, name, cfg.get("activation", "linear"), y), (cout, out_h, out_w))


def _batchnorm(g: _Graph, cfg: Config, x: Tensor) -> Tensor:
    name, channels = cfg["name"], x.shape[0]
    if cfg.get("axis") not in (-1, 3):
        raise ValueError(f"layer {name}: batch norm over axis {cfg.get('axis')} is not supported")
    gamma = g.weight(name, "gamma") if cfg.get("scale", True) else np.ones(channels, np.float32)
    beta = g.weight(name, "beta") if cfg.get("center", True) else np.zeros(channels, np.float32)
    params = {"scale": gamma, "bias": beta, "mean": g.weight(name, "moving_mean")}
    params["var"] = g.weight(name, "moving_variance")
    inputs = [x.name] + [g.const(f"{name}_{key}", value) for key, value in params.items()]
    return Tensor(g.node("BatchNormalization", inputs, name, epsilon=float(cfg["epsilon"])), x.shape)


def _relu(g: _Graph, cfg: Config, x: Tensor) -> Tensor:
    name = cfg["name"]
    if cfg.get("negative_slope") or cfg.get("threshold"):
        raise ValueError(f"layer {name}: leaky or thresholded ReLU is not supported")
    if cfg.get("max_value") is None:
        return Tensor(g.node("Relu", [x.name], name), x.shape)
    low = g.const(f"{name}_min", np.array(0.0, np.float32))
    high = g.const(f"{name}_max", np.array(float(cfg["max_value"]), np.float32))
    return Tensor(g.node("Clip", [x.name, low, high], name), x.shape)


def _pool(g: _Graph, cfg: Config, x: Tensor, op: str) -> Tensor:
    pads, out_h, out_w = _window(x, cfg, list(cfg["pool_size"]))
    attrs: dict[str, Any] = {"kernel_shape": list(cfg["pool_size"]), "strides": list(cfg["strides"]), "pads": pads}
    if op == "AveragePool":
        attrs["count_include_pad"] = 0  # TF averages over the valid part of the window only
    return Tensor(g.node(op, [x.name], cfg["name"], **attrs), (x.shape[0], out_h, out_w))


def _zero_padding(g: _Graph, cfg: Config, x: Tensor) -> Tensor:
    (top, bottom), (left, right) = cfg["padding"]
    pads = g.const(f"{cfg['name']}_pads", np.array([0, 0, top, left, 0, 0, bottom, right], np.int64))
    shape = (x.shape[0], x.shape[1] + top + bottom, x.shape[2] + left + right)
    return Tensor(g.node("Pad", [x.name, pads], cfg["name"]), shape)


def _flatten(g: _Graph, cfg: Config, x: Tensor) -> Tensor:
    nhwc = g.node("Transpose", [x.name], f"{cfg['name']}_nhwc", perm=[0, 2, 3, 1])  # Keras flattens in NHWC order
    return Tensor(g.node("Flatten", [nhwc], cfg["name"], axis=1), (int(np.prod(x.shape)),))


def _dense(g: _Graph, cfg: Config, x: Tensor) -> Tensor:
    name = cfg["name"]
    inputs = [x.name, g.const(f"{name}_w", g.weight(name, "kernel"))]
    if cfg.get("use_bias", True):
        inputs.append(g.const(f"{name}_b", g.weight(name, "bias")))
    y = g.node("Gemm", inputs, name)
    return Tensor(_activation(g, name, cfg.get("activation", "linear"), y), (int(cfg["units"]),))


def _activation_layer(g: _Graph, cfg: Config, x: Tensor) -> Tensor:
    return Tensor(_activation(g, cfg["name"], cfg["activation"], x.name), x.shape)


def _merge(g: _Graph, kind: str, cfg: Config, xs: list[Tensor]) -> Tensor:
    name = cfg["name"]
    if kind == "Add":
        return Tensor(g.node("Sum", [x.name for x in xs], name), xs[0].shape)
    if cfg.get("axis") not in (-1, 3):
        raise ValueError(f"layer {name}: concatenation over axis {cfg.get('axis')} is not supported")
    shape = (sum(x.shape[0] for x in xs), *xs[0].shape[1:])
    return Tensor(g.node("Concat", [x.name for x in xs], name, axis=1), shape)


_SINGLE: dict[str, Callable[[_Graph, Config, Tensor], Tensor]] = {
    "Conv2D": lambda g, c, x: _conv(g, c, x, depthwise=False),
    "DepthwiseConv2D": lambda g, c, x: _conv(g, c, x, depthwise=True),
    "BatchNormalization": _batchnorm,
    "ReLU": _relu,
    "Activation": _activation_layer,
    "MaxPooling2D": lambda g, c, x: _pool(g, c, x, "MaxPool"),
    "AveragePooling2D": lambda g, c, x: _pool(g, c, x, "AveragePool"),
    "ZeroPadding2D": _zero_padding,
    "Flatten": _flatten,
    "Dense": _dense,
    "Dropout": lambda g, c, x: x,  # identity at inference
}


def keras_to_onnx(topology: Mapping[str, Any], weights: Mapping[str, np.ndarray], graph_name: str) -> onnx.ModelProto:
    """An ONNX model with input `input` (N, H, W, 3) float32 in [0, 1] and output `probabilities` (N, classes)."""
    config = topology["model_config"]["config"]
    g = _Graph(weights)
    tensors: dict[str, Tensor] = {}
    inputs: list[onnx.ValueInfoProto] = []
    for layer in config["layers"]:
        kind, cfg = layer["class_name"], layer["config"]
        if kind == "InputLayer":
            _, height, width, channels = cfg["batch_input_shape"]
            inputs.append(helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["N", height, width, channels]))
            nchw = g.node("Transpose", [INPUT_NAME], "input_nchw", perm=[0, 3, 1, 2])
            tensors[cfg["name"]] = Tensor(nchw, (channels, height, width))
            continue
        tensors[cfg["name"]] = _layer(g, kind, cfg, [tensors[n[0]] for n in _single_call(layer)])
    ((output_layer, _, _),) = config["output_layers"]
    out = tensors[output_layer]
    g.node("Identity", [out.name], OUTPUT_NAME)
    output = helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["N", out.shape[0]])
    graph = helper.make_graph(g.nodes, graph_name, inputs, [output], g.initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="guardstream")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def _single_call(layer: Mapping[str, Any]) -> list[list[Any]]:
    nodes = layer["inbound_nodes"]
    if len(nodes) != 1:
        raise ValueError(f"layer {layer['config']['name']} is called {len(nodes)} times; shared layers are unsupported")
    inbound: list[list[Any]] = nodes[0]
    return inbound


def _layer(g: _Graph, kind: str, cfg: Config, xs: list[Tensor]) -> Tensor:
    if kind in ("Add", "Concatenate"):
        return _merge(g, kind, cfg, xs)
    if kind not in _SINGLE:
        raise ValueError(f"Keras layer {kind} ({cfg['name']}) is not supported by the converter")
    return _SINGLE[kind](g, cfg, xs[0])
