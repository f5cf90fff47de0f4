"""Execution providers: CPU by default; CUDA / TensorRT asked of onnxruntime only when wanted, refused clearly when
the installed build lacks them; the letterbox crop only for models that ask for it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from guardstream.engines.visual.preprocess import trim_letterbox
from guardstream.engines.visual.runtime import Device, ModelRunner, providers_for


def test_cpu_by_default_and_auto_keeps_what_exists() -> None:
    import onnxruntime as ort

    assert providers_for(Device.CPU) == ["CPUExecutionProvider"]
    auto = providers_for(Device.AUTO)
    assert auto[-1] == "CPUExecutionProvider" and set(auto) <= set(ort.get_available_providers())


def test_missing_gpu_provider_is_refused_by_name() -> None:
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this onnxruntime has CUDA")
    with pytest.raises(RuntimeError, match="CUDAExecutionProvider"):
        providers_for(Device.CUDA)


@pytest.mark.gpu
def test_cuda_matches_cpu(models_dir: Path) -> None:
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        pytest.skip("needs onnxruntime-gpu with CUDA (the `gpu` extra)")
    frames = np.random.default_rng(0).integers(0, 256, (4, 224, 224, 3), dtype=np.uint8)
    cpu = ModelRunner.open(models_dir, "nsfw").predict(frames)
    cuda = ModelRunner.open(models_dir, "nsfw", Device.CUDA)
    assert cuda.provider == "CUDAExecutionProvider"
    assert np.abs(cuda.predict(frames) - cpu).max() <= 1e-3


def test_trim_letterbox() -> None:
    frame = np.zeros((224, 224, 3), np.uint8)
    frame[40:184, :, 1] = 200
    assert trim_letterbox(frame).shape == (144, 224, 3)
    assert trim_letterbox(np.zeros((8, 8, 3), np.uint8)).shape == (8, 8, 3)
