"""ONNX Runtime sessions for the visual models: CPU execution provider by default; CUDA / TensorRT when asked
for and present. `ModelRunner` turns uint8 RGB frames into each model's class probabilities."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np

from guardstream.engines.visual.catalog import ModelSpec, checked_model_file, spec
from guardstream.engines.visual.preprocess import PREPROCESSORS, trim_letterbox

DEFAULT_MAX_BATCH = 16


class Device(StrEnum):
    CPU = "cpu"
    AUTO = "auto"  # TensorRT, then CUDA, then CPU: whichever onnxruntime build offers
    CUDA = "cuda"
    TENSORRT = "tensorrt"


_PROVIDERS = {
    Device.CPU: ["CPUExecutionProvider"],
    Device.CUDA: ["CUDAExecutionProvider", "CPUExecutionProvider"],
    Device.TENSORRT: ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"],
    Device.AUTO: ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"],
}


def providers_for(device: Device) -> list[str]:
    """Execution providers to ask for; AUTO keeps only those this onnxruntime build has."""
    import onnxruntime as ort

    available = set(ort.get_available_providers())
    wanted = _PROVIDERS[device]
    if device is not Device.AUTO and wanted[0] not in available:
        raise RuntimeError(f"device {device.value!r} needs {wanted[0]}; this onnxruntime has {sorted(available)}")
    return [p for p in wanted if p in available]


def open_session(path: Path, device: Device = Device.CPU, threads: int = 1) -> Any:
    """An onnxruntime InferenceSession on `path` (imported lazily)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=providers_for(device))


@dataclass
class ModelRunner:
    """One model: preprocessing + session. `predict` returns (N, classes) probabilities in the model's order."""

    model: ModelSpec
    session: Any
    max_batch: int = DEFAULT_MAX_BATCH

    @classmethod
    def open(cls, models_dir: Path, name: str, device: Device = Device.CPU, threads: int = 1) -> ModelRunner:
        """Check the model file against the manifest, then open its session."""
        return cls(spec(name), open_session(checked_model_file(models_dir, name), device, threads))

    @property
    def provider(self) -> str:
        providers: list[str] = self.session.get_providers()
        return providers[0]

    def inputs(self, frames: Sequence[np.ndarray] | np.ndarray, stream_frames: bool = True) -> np.ndarray:
        """The preprocessed batch for uint8 RGB frames. `stream_frames`: the frames come letterboxed from the
        stream's sampler (models with `trim_letterbox` crop the bars first); False: feed them as they are."""
        prepare, size = PREPROCESSORS[self.model.input.preprocess], self.model.input.size
        trim = trim_letterbox if stream_frames and self.model.input.trim_letterbox else np.asarray
        return np.stack([prepare(trim(np.asarray(f, np.uint8)), size) for f in frames]).astype(np.float32)

    def run(self, batch: np.ndarray) -> np.ndarray:
        """Class probabilities for an already preprocessed batch, in chunks of at most `max_batch`."""
        name = self.session.get_inputs()[0].name
        step = self.max_batch
        outs = [self.session.run(None, {name: batch[i : i + step]})[0] for i in range(0, len(batch), step)]
        probs = np.concatenate(outs).astype(np.float32)
        if probs.shape != (len(batch), len(self.model.classes)):
            raise RuntimeError(f"model {self.model.name} returned shape {probs.shape}, expected "
                               f"{(len(batch), len(self.model.classes))}")  # fmt: skip
        if not np.all(np.isfinite(probs)):
            raise RuntimeError(f"model {self.model.name} returned non-finite probabilities")
        return probs

    def predict(self, frames: Sequence[np.ndarray] | np.ndarray, stream_frames: bool = True) -> np.ndarray:
        """(N, classes) probabilities for uint8 RGB frames of any size (see `inputs` for `stream_frames`)."""
        if len(frames) == 0:
            return np.zeros((0, len(self.model.classes)), np.float32)
        return self.run(self.inputs(frames, stream_frames))
