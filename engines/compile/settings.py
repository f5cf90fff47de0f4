"""Settings of compiled guard engines (ONNX Runtime, TensorRT) and of the fused PAP kernel."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import Field

from guardstream.schemas._base import Section


class Runtime(StrEnum):
    """AUTO: ONNX Runtime where the exported model exists or can be built, torch otherwise. TORCH: never compile."""

    AUTO = "auto"
    ONNXRUNTIME = "onnxruntime"
    TORCH = "torch"


class Precision(StrEnum):
    """TensorRT build precision. INT8 needs calibration batches (see engines/compile/tensorrt.py)."""

    FP32 = "fp32"
    FP16 = "fp16"
    INT8 = "int8"


class KernelMode(StrEnum):
    """PAP selection at the pruning layer. AUTO: the fused Triton kernel on a CUDA device, torch otherwise."""

    AUTO = "auto"
    TRITON = "triton"
    TORCH = "torch"


class CompileSettings(Section):
    runtime: Runtime = Runtime.AUTO
    models_dir: Path = Field(
        default=Path(".guardstream") / "models",
        description="Exported ONNX files and TensorRT engine caches (the stack home's models folder).",
    )
    providers: tuple[str, ...] = Field(
        default=("CPUExecutionProvider",),
        description="ONNX Runtime execution providers in preference order; unavailable ones are skipped.",
    )
    intra_op_threads: int = Field(default=1, ge=1, description="ONNX Runtime threads inside one operator.")
    inter_op_threads: int = Field(default=1, ge=1, description="ONNX Runtime threads across operators.")
    opset: int = Field(default=17, ge=14, le=21)
    build_on_first_use: bool = Field(default=True, description="Export and verify at load when no file exists.")
    tolerance: float = Field(default=1e-4, gt=0, description="Max abs error vs torch an exported model may have.")
    tensorrt_precision: Precision = Precision.FP16
    tensorrt_workspace_mb: int = Field(default=2048, ge=64)
    tensorrt_max_batch: int = Field(default=8, ge=1, description="Upper bound of the batch / frame-count profile.")
    pap_kernel: KernelMode = KernelMode.AUTO
