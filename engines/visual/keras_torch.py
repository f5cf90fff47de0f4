"""The same Keras-layers network as a torch module, on the same de-quantised weights: the baseline the guards
benchmark compares ONNX Runtime against (`ort_vs_torch`). Input and output match the ONNX model: NHWC float32
in [0, 1] → class probabilities. Inference only; torch is imported lazily by `build_torch_model`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from guardstream.engines.visual.keras_onnx import tf_padding


def build_torch_model(topology: Mapping[str, Any], weights: Mapping[str, np.ndarray]) -> Any:
    """A `torch.nn.Module` (eval mode) that runs `topology` with `weights`."""
    import torch

    class KerasGraph(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = list(topology["model_config"]["config"]["layers"])
            self.output_layer = topology["model_config"]["config"]["output_layers"][0][0]
            tensors = {k.replace("/", "__"): torch.from_numpy(np.array(v)) for k, v in weights.items()}
            self.params = torch.nn.ParameterDict({k: torch.nn.Parameter(v, False) for k, v in tensors.items()})

        def w(self, layer: str, param: str) -> torch.Tensor:
            tensor: torch.Tensor = self.params[f"{layer}__{param}"]
            return tensor

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            values: dict[str, torch.Tensor] = {}
            for layer in self.layers:
                kind, cfg = layer["class_name"], layer["config"]
                if kind == "InputLayer":
                    values[cfg["name"]] = x.permute(0, 3, 1, 2)
                    continue
                inputs = [values[n[0]] for n in layer["inbound_nodes"][0]]
                values[cfg["name"]] = self.layer(kind, cfg, inputs)
            return values[self.output_layer]

        def layer(self, kind: str, cfg: dict[str, Any], xs: list[torch.Tensor]) -> torch.Tensor:
            x, name = xs[0], cfg["name"]
            if kind in ("Conv2D", "DepthwiseConv2D"):
                return self.conv(cfg, x, kind == "DepthwiseConv2D")
            if kind == "BatchNormalization":
                gamma = self.w(name, "gamma") if cfg.get("scale", True) else None
                beta = self.w(name, "beta") if cfg.get("center", True) else None
                mean, var = self.w(name, "moving_mean"), self.w(name, "moving_variance")
                return torch.nn.functional.batch_norm(x, mean, var, gamma, beta, False, 0.0, float(cfg["epsilon"]))
            if kind == "ReLU":
                return x.clamp(0.0, float(cfg["max_value"])) if cfg.get("max_value") is not None else x.relu()
            if kind == "Activation":
                return activation(cfg["activation"], x)
            if kind in ("MaxPooling2D", "AveragePooling2D"):
                return self.pool(cfg, x, kind == "MaxPooling2D")
            if kind == "ZeroPadding2D":
                (top, bottom), (left, right) = cfg["padding"]
                return torch.nn.functional.pad(x, (left, right, top, bottom))
            if kind == "Flatten":
                return x.permute(0, 2, 3, 1).flatten(1)
            if kind == "Dense":
                y = x @ self.w(name, "kernel") + self.w(name, "bias")
                return activation(cfg.get("activation", "linear"), y)
            if kind == "Dropout":
                return x
            if kind == "Add":
                return torch.stack(xs).sum(0)
            if kind == "Concatenate":
                return torch.cat(xs, 1)
            raise ValueError(f"Keras layer {kind} ({name}) is not supported")

        def conv(self, cfg: dict[str, Any], x: torch.Tensor, depthwise: bool) -> torch.Tensor:
            name = cfg["name"]
            if depthwise:
                k = self.w(name, "depthwise_kernel")
                weight, groups = k.permute(2, 3, 0, 1).reshape(-1, 1, k.shape[0], k.shape[1]), int(k.shape[2])
            else:
                weight, groups = self.w(name, "kernel").permute(3, 2, 0, 1), 1
            x = self.pad(cfg, x, list(cfg["kernel_size"]), 0.0)
            bias = self.w(name, "bias") if cfg.get("use_bias") else None
            y = torch.nn.functional.conv2d(x, weight, bias, list(cfg["strides"]), 0, 1, groups)
            return activation(cfg.get("activation", "linear"), y)

        def pool(self, cfg: dict[str, Any], x: torch.Tensor, is_max: bool) -> torch.Tensor:
            kernel, strides = list(cfg["pool_size"]), list(cfg["strides"])
            if is_max:
                return torch.nn.functional.max_pool2d(self.pad(cfg, x, kernel, float("-inf")), kernel, strides)
            ones = torch.ones_like(x[:, :1])  # TF averages over the valid part of the window: divide by its size
            total = torch.nn.functional.avg_pool2d(self.pad(cfg, x, kernel, 0.0), kernel, strides)
            count = torch.nn.functional.avg_pool2d(self.pad(cfg, ones, kernel, 0.0), kernel, strides)
            return total / count

        def pad(self, cfg: dict[str, Any], x: torch.Tensor, kernel: list[int], value: float) -> torch.Tensor:
            top, bottom, _ = tf_padding(int(x.shape[2]), kernel[0], cfg["strides"][0], cfg["padding"])
            left, right, _ = tf_padding(int(x.shape[3]), kernel[1], cfg["strides"][1], cfg["padding"])
            if top == bottom == left == right == 0:
                return x
            return torch.nn.functional.pad(x, (left, right, top, bottom), value=value)

    def activation(kind: str, x: torch.Tensor) -> torch.Tensor:
        if kind == "linear":
            return x
        if kind == "relu":
            return x.relu()
        if kind == "softmax":
            return x.softmax(-1)
        raise ValueError(f"activation {kind!r} is not supported")

    return KerasGraph().eval()
