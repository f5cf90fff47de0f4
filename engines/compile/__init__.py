"""Compiled guard engines: export guard parts to ONNX, verify them against torch, run them on ONNX Runtime (CPU,
CUDA or TensorRT execution providers). Guards call `load_engine(target, settings)`; None means stay on torch.

Modules: `settings` (the `compile` section), `artifact` (keys, files, manifests), `target` (what can be compiled),
`export` (TorchScript exporter + verification), `ort` (sessions), `loader` (load-or-build with fallback),
`tensorrt` (TensorRT EP options, engine cache, INT8 calibration), `targets/` (MiniLM, the Qwen vision tower).
"""

from guardstream.engines.compile.settings import CompileSettings, KernelMode, Precision, Runtime

__all__ = ["CompileSettings", "KernelMode", "Precision", "Runtime"]
