"""Get a compiled engine for a target, or None: the one entry point guards call.

Order: a valid exported file (manifest matches key and bytes) → load it; otherwise, if building is allowed, export,
verify against the torch path, record the manifest and load. Anything that fails is logged as a warning and gives
None, so the guard keeps its torch path; nothing here raises at serve time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import structlog

from guardstream.engines.compile import artifact
from guardstream.engines.compile.export import CompileError, export_key, export_onnx, feeds_for, verify
from guardstream.engines.compile.ort import TENSORRT, OrtEngine, available_providers, open_session
from guardstream.engines.compile.settings import CompileSettings, Runtime
from guardstream.engines.compile.target import Target

log = structlog.get_logger(__name__)


def load_engine(target: Target, settings: CompileSettings) -> OrtEngine | None:
    """The ORT engine for `target`, building it when allowed; None (with a log line) means: use torch."""
    if settings.runtime is Runtime.TORCH:
        log.info("compiled_engine_off", target=target.name, reason="runtime=torch")
        return None
    try:
        return _load_or_build(target, settings)
    except Exception as exc:  # any failure leaves the guard on torch: log it, never crash the replica
        log.warning(
            "compiled_engine_unavailable",
            target=target.name,
            fallback="torch",
            error=f"{type(exc).__name__}: {exc}"[:500],
        )
        return None


def _load_or_build(target: Target, settings: CompileSettings) -> OrtEngine | None:
    import onnxruntime  # noqa: F401  (fail here, inside the guarded call, when ORT is missing)

    key = export_key(target, settings.opset)
    path = key.onnx_path(settings.models_dir)
    with artifact.build_lock(path):
        manifest = artifact.valid_manifest(path, key)
        if manifest is None:
            if path.exists():
                log.warning("compiled_engine_stale", target=target.name, path=str(path), action="rebuild")
            artifact.remove_stale(path)
            if not settings.build_on_first_use:
                log.info("compiled_engine_missing", target=target.name, path=str(path), fallback="torch")
                return None
            manifest = _build(target, settings, key, path)
    engine = _open(target, settings, path, float(manifest["max_abs_error"]))
    log.info(
        "compiled_engine_loaded",
        target=target.name,
        providers=engine.providers,
        max_abs_error=engine.max_abs_error,
        path=str(path),
    )
    return engine


def _build(target: Target, settings: CompileSettings, key: artifact.ExportKey, path: Path) -> dict[str, Any]:
    export_s = export_onnx(target, path, settings.opset)
    cpu_only = settings.model_copy(update={"providers": ("CPUExecutionProvider",)})
    session = open_session(path, cpu_only, {})
    check = verify(target, lambda feeds: session.run(None, feeds_for(target, feeds)), settings.tolerance)
    if not check.ok:
        artifact.remove_stale(path)
        raise CompileError(
            f"{target.name}: exported graph differs from torch by {check.max_abs_error:.3g} > {check.tolerance:g}"
        )
    log.info(
        "compiled_engine_built", target=target.name, export_s=round(export_s, 2), max_abs_error=check.max_abs_error
    )
    return artifact.write_manifest(
        path, key, {"max_abs_error": check.max_abs_error, "samples": check.samples, "export_s": export_s}
    )


def _open(target: Target, settings: CompileSettings, path: Path, max_abs_error: float) -> OrtEngine:
    options: dict[str, dict[str, str]] = {}
    if TENSORRT in settings.providers and TENSORRT in available_providers():
        from guardstream.engines.compile.tensorrt import tensorrt_provider_options

        try:
            options[TENSORRT] = tensorrt_provider_options(target, path, settings)
        except Exception as exc:  # no GPU identity, calibration failed …: serve on the other providers
            log.warning("tensorrt_unavailable", target=target.name, error=f"{type(exc).__name__}: {exc}"[:500])
            settings = settings.model_copy(update={"providers": tuple(p for p in settings.providers if p != TENSORRT)})
    session = open_session(path, settings, options)
    return OrtEngine(path, session, list(session.get_providers()), max_abs_error)
