"""Export a target to ONNX with torch's TorchScript exporter and verify it against the torch path.

The TorchScript exporter (`dynamo=False`) is used throughout: it needs no onnxscript, and it is the one that exports
the Qwen vision tower (whose window layout is data-dependent Python); fixed parts of a graph (a frame grid) become
constants and the axes named in the input spec stay dynamic.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from guardstream.engines.compile.artifact import ExportKey
from guardstream.engines.compile.target import Feeds, Target


class CompileError(RuntimeError):
    """Export, verification or session creation failed; the guard stays on its torch path."""


@dataclass(frozen=True)
class Verification:
    max_abs_error: float
    samples: int
    tolerance: float

    @property
    def ok(self) -> bool:
        return bool(np.isfinite(self.max_abs_error)) and self.max_abs_error <= self.tolerance


def exporter_id() -> str:
    import torch

    return f"torchscript/torch-{torch.__version__}"


def export_key(target: Target, opset: int) -> ExportKey:
    return ExportKey(target.name, target.model_version(), target.revision, opset, target.inputs(), exporter_id())


def export_onnx(target: Target, path: Path, opset: int) -> float:
    """Write `target` as ONNX to `path` (atomically); return the export time in seconds."""
    import torch

    started = time.perf_counter()
    feeds = target.samples()[0]
    specs = target.inputs()
    args = tuple(torch.from_numpy(feeds[spec.name]) for spec in specs)
    dynamic: dict[str, dict[int, str]] = {s.name: s.dynamic_axes() for s in specs if s.dynamic_axes()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
            warnings.simplefilter("ignore")  # tracer warnings about constants are expected for fixed grids
            torch.onnx.export(
                target.module(),
                args,
                str(tmp),
                dynamo=False,
                opset_version=opset,
                input_names=[s.name for s in specs],
                output_names=list(target.outputs()),
                dynamic_axes=dynamic | _output_axes(target),
            )
        tmp.replace(path)
    except Exception as exc:
        tmp.unlink(missing_ok=True)
        raise CompileError(f"ONNX export of {target.name} failed: {type(exc).__name__}: {exc}") from exc
    return time.perf_counter() - started


def _output_axes(target: Target) -> dict[str, dict[int, str]]:
    """Outputs keep their leading axis dynamic when any input has a dynamic axis."""
    if any(spec.dynamic_axes() for spec in target.inputs()):
        return {name: {0: f"{name}_rows"} for name in target.outputs()}
    return {}


def verify(target: Target, run: Any, tolerance: float) -> Verification:
    """Max abs error between `run(feeds)` (the compiled engine) and the torch reference over every sample."""
    worst = 0.0
    samples = target.samples()
    for feeds in samples:
        got = run(feeds)
        want = target.reference(feeds)
        if len(got) != len(want):
            raise CompileError(f"{target.name}: engine gave {len(got)} outputs, torch {len(want)}")
        for g, w in zip(got, want, strict=True):
            if g.shape != w.shape:
                raise CompileError(f"{target.name}: output shape {g.shape} != torch {w.shape}")
            worst = max(worst, float(np.max(np.abs(g.astype(np.float64) - w))) if g.size else 0.0)
    return Verification(worst, len(samples), tolerance)


def feeds_for(target: Target, feeds: Feeds) -> Feeds:
    """Only the declared inputs, in their declared dtypes (ONNX Runtime is strict about both)."""
    return {spec.name: np.ascontiguousarray(feeds[spec.name], dtype=spec.dtype) for spec in target.inputs()}
