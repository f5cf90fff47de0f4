"""Read a TF.js Keras-layers model from the nsfwjs package: topology and de-quantised float32 weights.

nsfwjs stores each weight as uint8 with a per-tensor affine quantisation: value = min + scale × q (BRIEF §8).
TF.js de-quantises as `q * scale + min` in double precision, then stores float32; we do the same, so the weights
are bit-identical to the ones TF.js computes.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from guardstream.engines.visual.jslit import bundle_export


@dataclass(frozen=True)
class TfjsModel:
    """A topology (Keras layers or TF graph) and its weights by name (`layer/param`, or the graph's Const name)."""

    topology: dict[str, Any]
    weights: dict[str, np.ndarray]
    format: str = "layers-model"

    @property
    def input_size(self) -> int:
        if self.format == "graph-model":
            placeholder = next(n for n in self.topology["node"] if n["op"] == "Placeholder")
            return int(placeholder["attr"]["shape"]["shape"]["dim"][1]["size"])
        layers = self.topology["model_config"]["config"]["layers"]
        shape = next(layer["config"]["batch_input_shape"] for layer in layers if layer["class_name"] == "InputLayer")
        return int(shape[1])


def read_tfjs_model(folder: Path) -> TfjsModel:
    """Read `model.min.js` and its `group*-shard*.min.js` files from one nsfwjs model folder. The topology is a
    Keras `model_config` for layers models, or a TF GraphDef (`node` list) for graph models (`format`)."""
    spec = bundle_export((folder / "model.min.js").read_text(encoding="utf-8"))
    if "modelTopology" not in spec or spec.get("format", "layers-model") not in ("layers-model", "graph-model"):
        raise ValueError(f"{folder}: not a TF.js layers or graph model (format {spec.get('format')!r})")
    weights: dict[str, np.ndarray] = {}
    for group in spec["weightsManifest"]:
        data = b"".join(_shard_bytes(folder, path) for path in group["paths"])
        weights.update(_dequantise_group(group["weights"], data, folder))
    return TfjsModel(spec["modelTopology"], weights, spec.get("format", "layers-model"))


def _shard_bytes(folder: Path, path: str) -> bytes:
    return base64.b64decode(bundle_export((folder / f"{path}.min.js").read_text(encoding="utf-8")), validate=True)


def _dequantise_group(specs: list[dict[str, Any]], data: bytes, folder: Path) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    offset = 0
    for spec in specs:
        count = int(np.prod(spec["shape"], dtype=np.int64))
        out[spec["name"]] = dequantise(spec, data, offset, count)
        offset += count * _item_bytes(spec)
    if offset != len(data):
        raise ValueError(f"{folder}: weight shards hold {len(data)} bytes, the manifest describes {offset}")
    return out


def _item_bytes(spec: dict[str, Any]) -> int:
    kind = spec.get("quantization", {}).get("dtype", spec["dtype"])
    return {"uint8": 1, "uint16": 2, "float32": 4}[kind]


def dequantise(spec: dict[str, Any], data: bytes, offset: int, count: int) -> np.ndarray:
    """One weight tensor as float32, from raw float32 or affine-quantised uint8 / uint16 bytes."""
    quant = spec.get("quantization")
    if spec["dtype"] != "float32":
        raise ValueError(f"weight {spec['name']}: dtype {spec['dtype']} is not supported")
    if quant is None:
        values = np.frombuffer(data, "<f4", count, offset)
    else:
        raw = np.frombuffer(data, np.dtype(quant["dtype"]).newbyteorder("<"), count, offset)
        values = (raw.astype(np.float64) * quant["scale"] + quant["min"]).astype(np.float32)
    return values.reshape(spec["shape"])
