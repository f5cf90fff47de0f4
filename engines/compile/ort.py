"""ONNX Runtime sessions built from the compile settings (threads, execution providers)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from guardstream.engines.compile.settings import CompileSettings

TENSORRT = "TensorrtExecutionProvider"
CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"


def available_providers() -> list[str]:
    import onnxruntime as ort

    return list(ort.get_available_providers())


def resolve_providers(wanted: tuple[str, ...], available: list[str]) -> list[str]:
    """The wanted providers this ONNX Runtime build has, in order; CPU always last as the catch-all."""
    chosen = [p for p in wanted if p in available and p != CPU]
    return [*chosen, CPU]


@dataclass
class OrtEngine:
    """A loaded ONNX Runtime session for one exported file."""

    path: Path
    session: Any
    providers: list[str]
    max_abs_error: float

    @property
    def input_names(self) -> list[str]:
        return [i.name for i in self.session.get_inputs()]

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        outs: list[np.ndarray] = self.session.run(None, feeds)
        return outs


def session_options(settings: CompileSettings) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = settings.intra_op_threads
    options.inter_op_num_threads = settings.inter_op_threads
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # errors only: ORT's own warnings would go to stderr, not structlog
    return options


def open_session(path: Path, settings: CompileSettings, provider_options: dict[str, dict[str, str]]) -> Any:
    """An InferenceSession on `path` with the settings' providers; per-provider options where given."""
    import onnxruntime as ort

    providers = resolve_providers(settings.providers, available_providers())
    entries = [(p, provider_options[p]) if p in provider_options else p for p in providers]
    return ort.InferenceSession(str(path), sess_options=session_options(settings), providers=entries)
