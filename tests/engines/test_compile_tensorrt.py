"""TensorRT path: profiles, keyed engine caches (stale → rebuilt), INT8 calibration (CPU-checkable parts here);
the builds themselves are `gpu` tests, skipped with a reason where there is no TensorRT execution provider."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from guardstream.engines.compile.loader import load_engine
from guardstream.engines.compile.ort import TENSORRT, available_providers
from guardstream.engines.compile.settings import CompileSettings, Precision
from guardstream.engines.compile.tensorrt import (
    EngineCacheKey,
    GpuIdentity,
    calibration_table,
    engine_cache_dir,
    profile_shapes,
    tensorrt_provider_options,
)
from tests.engines.test_compile import SmallMLP

H200 = GpuIdentity("NVIDIA H200", "9.0", "10.13.0", "1.23.0")


@pytest.fixture()
def built(tmp_path: Path) -> tuple[SmallMLP, Path, CompileSettings]:
    settings = CompileSettings(models_dir=tmp_path / "models")
    target = SmallMLP()
    engine = load_engine(target, settings)
    assert engine is not None
    return target, engine.path, settings


def test_profile_covers_dynamic_axes(built: tuple[SmallMLP, Path, CompileSettings]) -> None:
    target, _, settings = built
    assert profile_shapes(target, settings.model_copy(update={"tensorrt_max_batch": 16})) == {
        "trt_profile_min_shapes": "x:1x8",
        "trt_profile_opt_shapes": "x:3x8",  # the first sample's batch
        "trt_profile_max_shapes": "x:16x8",
    }


def test_engine_cache_is_keyed_by_gpu_and_tensorrt_version(built: tuple[SmallMLP, Path, CompileSettings]) -> None:
    _, onnx_path, settings = built
    key = EngineCacheKey(H200, "abc", "fp16", "profile")
    folder = engine_cache_dir(settings.models_dir, onnx_path, key)
    (folder / "engine.bin").write_bytes(b"built for this key")
    assert engine_cache_dir(settings.models_dir, onnx_path, key) == folder
    assert (folder / "engine.bin").exists()  # same key: the engine is reused
    newer = EngineCacheKey(GpuIdentity("NVIDIA H200", "9.0", "10.14.1", "1.23.0"), "abc", "fp16", "profile")
    other_gpu = EngineCacheKey(GpuIdentity("NVIDIA A100", "8.0", "10.13.0", "1.23.0"), "abc", "fp16", "profile")
    assert len({folder, engine_cache_dir(settings.models_dir, onnx_path, newer)}) == 2
    assert engine_cache_dir(settings.models_dir, onnx_path, other_gpu) != folder


def test_mismatched_cache_folder_is_emptied(built: tuple[SmallMLP, Path, CompileSettings]) -> None:
    _, onnx_path, settings = built
    key = EngineCacheKey(H200, "abc", "fp16", "profile")
    folder = engine_cache_dir(settings.models_dir, onnx_path, key)
    (folder / "engine.bin").write_bytes(b"half-written or foreign")
    (folder / "engine-key.json").write_text('{"gpu": "something else"}')
    assert engine_cache_dir(settings.models_dir, onnx_path, key) == folder
    assert not (folder / "engine.bin").exists()  # rebuilt, never loaded


def test_int8_options_calibrate_from_the_hook(built: tuple[SmallMLP, Path, CompileSettings]) -> None:
    target, onnx_path, settings = built
    batches: list[int] = []

    def hook() -> Any:
        for i in range(4):
            batches.append(i)
            yield {"x": np.random.default_rng(i).standard_normal((2, 8)).astype(np.float32)}

    int8 = settings.model_copy(update={"tensorrt_precision": Precision.INT8})
    options = tensorrt_provider_options(target, onnx_path, int8, calibration=hook, gpu=H200)
    assert batches == [0, 1, 2, 3]
    table = Path(options["trt_engine_cache_path"]) / options["trt_int8_calibration_table_name"]
    assert table.is_file() and table.stat().st_size > 0
    assert options["trt_int8_enable"] == "True" and options["trt_fp16_enable"] == "True"
    fp16 = tensorrt_provider_options(target, onnx_path, settings, gpu=H200)
    assert "trt_int8_enable" not in fp16 and fp16["trt_engine_cache_path"] != options["trt_engine_cache_path"]


def test_calibration_table_lists_every_tensor(built: tuple[SmallMLP, Path, CompileSettings], tmp_path: Path) -> None:
    target, onnx_path, _ = built
    table = calibration_table(onnx_path, target.samples(), tmp_path / "cal")
    ranges = (tmp_path / "cal" / "calibration.json").read_text()
    assert table.is_file() and '"x"' in ranges and '"y"' in ranges


needs_tensorrt = pytest.mark.skipif(
    TENSORRT not in available_providers(), reason="no TensorRT execution provider (onnxruntime-gpu + tensorrt on a GPU)"
)


@pytest.mark.gpu
@needs_tensorrt
@pytest.mark.parametrize(("precision", "tolerance"), [(Precision.FP16, 5e-3), (Precision.INT8, 0.15)])
def test_tensorrt_engine_matches_torch_and_is_cached(tmp_path: Path, precision: Precision, tolerance: float) -> None:
    settings = CompileSettings(
        models_dir=tmp_path, providers=(TENSORRT, "CUDAExecutionProvider"), tensorrt_precision=precision
    )
    target = SmallMLP()
    engine = load_engine(target, settings)
    assert engine is not None and engine.providers[0] == TENSORRT
    for feeds in target.samples():
        assert float(np.abs(engine.run(feeds)[0] - target.reference(feeds)[0]).max()) <= tolerance
    cached = sorted(p for p in (tmp_path / "tensorrt").rglob("*") if p.suffix == ".engine")
    assert cached, "TensorRT EP wrote no engine into the keyed cache folder"
    stamps = [p.stat().st_mtime_ns for p in cached]
    again = load_engine(target, settings)
    assert again is not None and [p.stat().st_mtime_ns for p in cached] == stamps  # loaded, not rebuilt
