"""Exported files on disk: what they are keyed by, where they live, and whether one on disk may be used.

An exported model is keyed by (target name, model version, target revision, opset, input spec, exporter). The
file name carries the key's digest; a manifest beside it holds the key, the file's sha256 and the verification
result. A file whose manifest is missing, names another key, or whose bytes do not hash to the manifest's sha256 is
stale: it is rebuilt, never loaded.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class InputSpec:
    """One graph input: name, numpy dtype name and shape (ints are fixed, strings name a dynamic axis)."""

    name: str
    dtype: str
    shape: tuple[int | str, ...]

    def dynamic_axes(self) -> dict[int, str]:
        return {i: d for i, d in enumerate(self.shape) if isinstance(d, str)}


@dataclass(frozen=True)
class ExportKey:
    target: str
    model_version: str
    revision: str
    opset: int
    inputs: tuple[InputSpec, ...]
    exporter: str

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["inputs"] = [asdict(spec) | {"shape": list(spec.shape)} for spec in self.inputs]
        return data

    @property
    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.as_dict(), sort_keys=True).encode()).hexdigest()[:16]

    def onnx_path(self, models_dir: Path) -> Path:
        return models_dir / "onnx" / f"{_safe(self.target)}-{self.digest}.onnx"


def manifest_path(onnx_path: Path) -> Path:
    return onnx_path.with_suffix(".json")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(onnx_path: Path, key: ExportKey, extra: dict[str, Any]) -> dict[str, Any]:
    """Record the key, the file's hash and `extra` (verification figures) beside the file, atomically."""
    manifest = {"key": key.as_dict(), "sha256": file_sha256(onnx_path), **extra}
    atomic_write_text(manifest_path(onnx_path), json.dumps(manifest, indent=2, sort_keys=True))
    return manifest


def valid_manifest(onnx_path: Path, key: ExportKey) -> dict[str, Any] | None:
    """The manifest when the file on disk is exactly the one this key describes; None when it is stale."""
    path = manifest_path(onnx_path)
    if not (onnx_path.is_file() and path.is_file()):
        return None
    try:
        manifest: dict[str, Any] = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if manifest.get("key") != key.as_dict() or manifest.get("sha256") != file_sha256(onnx_path):
        return None
    return manifest


def remove_stale(onnx_path: Path) -> None:
    for path in (onnx_path, manifest_path(onnx_path)):
        path.unlink(missing_ok=True)


def atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


@contextlib.contextmanager
def build_lock(path: Path) -> Iterator[None]:
    """An exclusive file lock so replicas starting together build a file once, not over each other."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with (path.parent / f".{path.name}.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)
