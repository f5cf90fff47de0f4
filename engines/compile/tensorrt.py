"""TensorRT for the same ONNX files, through ONNX Runtime's TensorRT execution provider.

Why the EP and not the `tensorrt` API directly: one session API for CPU, CUDA and TensorRT (the guards' code does
not change), ops TensorRT cannot take fall back to the CUDA EP node by node instead of failing the build, device
memory and streams are ONNX Runtime's (no CUDA bindings needed beside a CPU torch), and dynamic shapes, FP16/INT8,
timing and engine caches are provider options. What the EP does not do is decide when a cached engine is stale, so
this module keys the cache folder itself: GPU name + compute capability + TensorRT + ONNX Runtime versions + the
ONNX file's sha256 + precision + profile. A folder whose manifest does not match its key is deleted and rebuilt.

INT8 needs calibration: `calibration_table` runs ONNX Runtime's calibrator over batches a hook yields (on CPU; no
GPU needed) and writes the table the EP reads. FP8 is not offered: TensorRT takes FP8 only from explicitly
quantized (Q/DQ) graphs, not from a build flag.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import shutil
import subprocess
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from guardstream.engines.compile.artifact import atomic_write_text, file_sha256
from guardstream.engines.compile.settings import CompileSettings, Precision
from guardstream.engines.compile.target import Feeds, Target

CalibrationHook = Callable[[], Iterable[Feeds]]
TRT_DISTRIBUTIONS = ("tensorrt", "tensorrt-cu12", "tensorrt-cu13", "tensorrt_libs", "tensorrt-cu12-libs")


@dataclass(frozen=True)
class GpuIdentity:
    name: str
    compute_capability: str
    tensorrt_version: str
    onnxruntime_version: str


def gpu_identity() -> GpuIdentity:
    """The GPU and runtime versions an engine is valid for (nvidia-smi + installed distributions)."""
    query = ["nvidia-smi", "--query-gpu=name,compute_cap", "--format=csv,noheader", "--id=0"]
    out = subprocess.run(query, capture_output=True, text=True, timeout=30, check=True).stdout.strip()
    name, capability = (part.strip() for part in out.split(",", 1))
    import onnxruntime

    return GpuIdentity(name, capability, tensorrt_version(), str(onnxruntime.__version__))


def tensorrt_version() -> str:
    for dist in TRT_DISTRIBUTIONS:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    raise RuntimeError("TensorRT is not installed: pip install 'guardstream[gpu]'")


def profile_shapes(target: Target, settings: CompileSettings) -> dict[str, str]:
    """trt_profile_{min,opt,max}_shapes: each dynamic axis from 1 to `target.axis_max`, optimised at the first
    sample's size; fixed axes as they are."""
    sample = target.samples()[0]
    shapes: dict[str, list[str]] = {"min": [], "opt": [], "max": []}
    for spec in target.inputs():
        dims: dict[str, list[int]] = {"min": [], "opt": [], "max": []}
        for axis, dim in enumerate(spec.shape):
            low, high = (1, target.axis_max(dim, settings)) if isinstance(dim, str) else (dim, dim)
            dims["min"].append(low)
            dims["opt"].append(min(max(low, int(sample[spec.name].shape[axis])), high))
            dims["max"].append(high)
        for kind, values in dims.items():
            shapes[kind].append(f"{spec.name}:{'x'.join(str(v) for v in values)}")
    return {f"trt_profile_{kind}_shapes": ",".join(parts) for kind, parts in shapes.items()}


@dataclass(frozen=True)
class EngineCacheKey:
    gpu: GpuIdentity
    onnx_sha256: str
    precision: str
    profile: str

    @property
    def digest(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:16]


def engine_cache_dir(models_dir: Path, onnx_path: Path, key: EngineCacheKey) -> Path:
    """The cache folder for this key, emptied first when what is in it was built for something else."""
    folder = models_dir / "tensorrt" / f"{onnx_path.stem}-{key.digest}"
    manifest = folder / "engine-key.json"
    want = json.dumps(asdict(key), sort_keys=True)
    if folder.exists() and (not manifest.is_file() or manifest.read_text() != want):
        shutil.rmtree(folder)  # stale or partial: rebuild, never load
    folder.mkdir(parents=True, exist_ok=True)
    if not manifest.is_file():
        atomic_write_text(manifest, want)
    return folder


def calibration_table(onnx_path: Path, batches: Iterable[Feeds], out_dir: Path) -> Path:
    """INT8 ranges of every tensor from `batches` (ONNX Runtime's MinMax calibrator, CPU); the table file the TensorRT
    EP reads (`trt_int8_calibration_table_name`)."""
    from onnxruntime.quantization.calibrate import CalibrationDataReader, CalibrationMethod, create_calibrator
    from onnxruntime.quantization.quant_utils import write_calibration_table

    class Reader(CalibrationDataReader):  # type: ignore[misc]
        def __init__(self, feeds: Iterator[Feeds]) -> None:
            self.feeds = feeds

        def get_next(self) -> Feeds | None:
            return next(self.feeds, None)

    out_dir.mkdir(parents=True, exist_ok=True)
    calibrator = create_calibrator(
        onnx_path,
        augmented_model_path=str(out_dir / "augmented.onnx"),
        calibrate_method=CalibrationMethod.MinMax,
        providers=["CPUExecutionProvider"],
    )
    calibrator.collect_data(Reader(iter(batches)))
    write_calibration_table(calibrator.compute_data().data, dir=str(out_dir))
    (out_dir / "augmented.onnx").unlink(missing_ok=True)
    return out_dir / "calibration.flatbuffers"


def tensorrt_provider_options(
    target: Target,
    onnx_path: Path,
    settings: CompileSettings,
    calibration: CalibrationHook | None = None,
    gpu: GpuIdentity | None = None,
) -> dict[str, str]:
    """Options of the TensorRT EP for this file: precision, workspace, dynamic-shape profile, keyed engine cache."""
    profile = profile_shapes(target, settings)
    key = EngineCacheKey(gpu or gpu_identity(), file_sha256(onnx_path), settings.tensorrt_precision.value, str(profile))
    folder = engine_cache_dir(settings.models_dir, onnx_path, key)
    options = {
        "trt_max_workspace_size": str(settings.tensorrt_workspace_mb * 1024 * 1024),
        "trt_engine_cache_enable": "True",
        "trt_engine_cache_path": str(folder),
        "trt_timing_cache_enable": "True",
        "trt_timing_cache_path": str(folder),
        "trt_fp16_enable": str(settings.tensorrt_precision is not Precision.FP32),
        **profile,
    }
    if settings.tensorrt_precision is Precision.INT8:
        table = folder / "calibration.flatbuffers"
        if not table.is_file():
            table = calibration_table(onnx_path, (calibration or target.samples)(), folder)
        options |= {
            "trt_int8_enable": "True",
            "trt_int8_calibration_table_name": table.name,  # relative to the engine cache path
            "trt_int8_use_native_calibration_table": "False",
        }
    return options
