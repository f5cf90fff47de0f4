"""Convert a TF.js *graph* model (a frozen TF GraphDef with grappler-fused ops) to ONNX: nsfwjs' MobileNetV2-mid.

Same conventions as keras_onnx: input `input` NHWC float32 in [0, 1], NCHW inside, TF "same" padding as explicit
pads, output `probabilities`. Supported ops are the ones that model uses: Placeholder, Const, Mul, Sub, AddV2,
_FusedConv2D / FusedDepthwiseConv2dNative (fused BiasAdd [+ Relu6]), AvgPool, Squeeze, _FusedMatMul (BiasAdd),
Softmax, Identity. Anything else is refused with the node's name.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper

from guardstream.engines.visual.keras_onnx import INPUT_NAME, OPSET, OUTPUT_NAME, Tensor, _Graph, tf_padding

Node = dict[str, Any]


def _text(attr: Mapping[str, Any], key: str) -> str:
    return base64.b64decode(attr[key]["s"]).decode()


def _ints(attr: Mapping[str, Any], key: str) -> list[int]:
    return [int(v) for v in attr[key]["list"].get("i", [])]


def _fused_ops(attr: Mapping[str, Any]) -> list[str]:
    return [base64.b64decode(v).decode() for v in attr["fused_ops"]["list"]["s"]]


class _GraphConverter:
    def __init__(self, nodes: list[Node], weights: Mapping[str, np.ndarray]) -> None:
        self.nodes = {n["name"]: n for n in nodes}
        self.g = _Graph(weights)
        self.values: dict[str, Tensor] = {}
        self.consts: dict[str, np.ndarray] = {}

    def ref(self, name: str) -> str:
        return name.split(":")[0].lstrip("^")

    def value(self, name: str) -> Tensor:
        key = self.ref(name)
        if key not in self.values:
            self.values[key] = self.convert(self.nodes[key])
        return self.values[key]

    def const(self, name: str) -> np.ndarray:
        key = self.ref(name)
        if self.nodes[key]["op"] != "Const":
            raise ValueError(f"node {key} must be a constant")
        return self.g.weights[key]

    def convert(self, node: Node) -> Tensor:
        op, name, attr, ins = node["op"], node["name"], node.get("attr", {}), node.get("input", [])
        if op == "Placeholder":
            dims = [int(d["size"]) for d in attr["shape"]["shape"]["dim"]]
            return Tensor(
                self.g.node("Transpose", [INPUT_NAME], "input_nchw", perm=[0, 3, 1, 2]), (dims[3], dims[1], dims[2])
            )
        if op in ("Mul", "Sub", "AddV2"):
            return self.binary(op, name, ins)
        if op in ("_FusedConv2D", "FusedDepthwiseConv2dNative"):
            return self.conv(name, attr, ins, op == "FusedDepthwiseConv2dNative")
        if op == "AvgPool":
            return self.avg_pool(name, attr, self.value(ins[0]))
        if op == "Squeeze":
            x = self.value(ins[0])
            if _ints(attr, "squeeze_dims") != [1, 2] or x.shape[1:] != (1, 1):
                raise ValueError(f"node {name}: only squeezing 1x1 spatial axes is supported")
            return Tensor(self.g.node("Flatten", [x.name], name, axis=1), (x.shape[0],))
        if op == "_FusedMatMul":
            return self.matmul(name, attr, ins)
        if op in ("Softmax", "Identity"):
            x = self.value(ins[0])
            extra = {"axis": -1} if op == "Softmax" else {}
            return Tensor(self.g.node(op, [x.name], name, **extra), x.shape)
        raise ValueError(f"TF op {op} (node {name}) is not supported by the graph converter")

    def binary(self, op: str, name: str, ins: list[str]) -> Tensor:
        onnx_op = {"Mul": "Mul", "Sub": "Sub", "AddV2": "Add"}[op]
        args: list[str] = []
        shape: tuple[int, ...] = ()
        for i in ins:
            if self.nodes[self.ref(i)]["op"] == "Const":
                value = self.const(i)
                if value.size != 1:
                    raise ValueError(f"node {name}: only scalar constants are supported in {op}")
                args.append(self.g.const(f"{name}_{len(args)}", value.reshape(()).astype(np.float32)))
            else:
                tensor = self.value(i)
                args.append(tensor.name)
                shape = tensor.shape
        return Tensor(self.g.node(onnx_op, args, name), shape)

    def conv(self, name: str, attr: Mapping[str, Any], ins: list[str], depthwise: bool) -> Tensor:
        x, k, bias = self.value(ins[0]), self.const(ins[1]), self.const(ins[2])
        fused = _fused_ops(attr)
        if _text(attr, "data_format") != "NHWC" or _ints(attr, "dilations") != [1, 1, 1, 1]:
            raise ValueError(f"node {name}: only NHWC, undilated convolutions are supported")
        if fused not in (["BiasAdd"], ["BiasAdd", "Relu6"]):
            raise ValueError(f"node {name}: fused ops {fused} are not supported")
        kh, kw, cin, cout = k.shape
        if depthwise:
            w, group, cout = k.transpose(2, 3, 0, 1).reshape(cin * cout, 1, kh, kw), cin, cin * cout
        else:
            w, group = k.transpose(3, 2, 0, 1), 1
        strides = _ints(attr, "strides")[1:3]
        padding = _text(attr, "padding").lower()
        top, bottom, out_h = tf_padding(x.shape[1], kh, strides[0], padding)
        left, right, out_w = tf_padding(x.shape[2], kw, strides[1], padding)
        inputs = [x.name, self.g.const(f"{name}_w", w), self.g.const(f"{name}_b", bias)]
        y = self.g.node("Conv", inputs, f"{name}_conv", kernel_shape=[kh, kw], strides=strides,
                        pads=[top, left, bottom, right], group=group)  # fmt: skip
        return Tensor(self.relu6(name, y) if "Relu6" in fused else y, (cout, out_h, out_w))

    def relu6(self, name: str, x: str) -> str:
        low = self.g.const(f"{name}_min", np.array(0.0, np.float32))
        high = self.g.const(f"{name}_max", np.array(6.0, np.float32))
        return self.g.node("Clip", [x, low, high], f"{name}_relu6")

    def avg_pool(self, name: str, attr: Mapping[str, Any], x: Tensor) -> Tensor:
        kernel, strides = _ints(attr, "ksize")[1:3], _ints(attr, "strides")[1:3]
        padding = _text(attr, "padding").lower()
        top, bottom, out_h = tf_padding(x.shape[1], kernel[0], strides[0], padding)
        left, right, out_w = tf_padding(x.shape[2], kernel[1], strides[1], padding)
        y = self.g.node("AveragePool", [x.name], name, kernel_shape=kernel, strides=strides,
                        pads=[top, left, bottom, right], count_include_pad=0)  # fmt: skip
        return Tensor(y, (x.shape[0], out_h, out_w))

    def matmul(self, name: str, attr: Mapping[str, Any], ins: list[str]) -> Tensor:
        if (
            _fused_ops(attr) != ["BiasAdd"]
            or attr.get("transpose_a", {}).get("b")
            or attr.get("transpose_b", {}).get("b")
        ):
            raise ValueError(f"node {name}: only an untransposed MatMul + BiasAdd is supported")
        x, w, bias = self.value(ins[0]), self.const(ins[1]), self.const(ins[2])
        inputs = [x.name, self.g.const(f"{name}_w", w), self.g.const(f"{name}_b", bias)]
        return Tensor(self.g.node("Gemm", inputs, name), (int(w.shape[1]),))


def graph_to_onnx(topology: Mapping[str, Any], weights: Mapping[str, np.ndarray], graph_name: str) -> onnx.ModelProto:
    """An ONNX model with input `input` (N, H, W, 3) float32 and output `probabilities` from a TF.js graph model."""
    nodes: list[Node] = list(topology["node"])
    converter = _GraphConverter(nodes, weights)
    placeholder = next(n for n in nodes if n["op"] == "Placeholder")
    dims = [int(d["size"]) for d in placeholder["attr"]["shape"]["shape"]["dim"]]
    consumed = {converter.ref(i) for n in nodes for i in n.get("input", [])}
    (sink,) = [n for n in nodes if n["name"] not in consumed and n["op"] != "Const"]
    out = converter.value(sink["name"])
    converter.g.node("Identity", [out.name], OUTPUT_NAME)
    inputs = [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["N", dims[1], dims[2], dims[3]])]
    output = helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["N", out.shape[0]])
    graph = helper.make_graph(converter.g.nodes, graph_name, inputs, [output], converter.g.initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="guardstream")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model
