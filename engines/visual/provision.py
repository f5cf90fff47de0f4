"""`guardstream models setup`: fetch the pinned nsfwjs package with the npm client, check its SHA-256, convert its
Keras-layers models to ONNX, locate the two ONNX files inside the installed wheels, and write the models folder's
manifest. Optionally install the Node reference (@tensorflow/tfjs + the same nsfwjs tarball) used by
`guardstream models verify`. Idempotent: files that already match are kept. Nothing is fetched at run time.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import onnx
import structlog

from guardstream.engines.visual.catalog import (
    MANIFEST_SCHEMA_VERSION,
    MODELS,
    NSFWJS_PACKAGE,
    NSFWJS_TARBALL_SHA256,
    NSFWJS_VERSION,
    ModelFileError,
    ModelSpec,
    manifest_entry,
    manifest_path,
    package_path,
    read_manifest,
    sha256_file,
)
from guardstream.engines.visual.graph_onnx import graph_to_onnx
from guardstream.engines.visual.keras_onnx import keras_to_onnx
from guardstream.engines.visual.tfjs import read_tfjs_model

log = structlog.get_logger(__name__)
NODE_PACKAGE_JSON = Path(__file__).parent / "node" / "package.json"
NODE_REFERENCE_SCRIPT = Path(__file__).parent / "node" / "reference.cjs"
NPM_TIMEOUT_S = 600.0


def tarball_path(models_dir: Path) -> Path:
    return models_dir / "cache" / f"{NSFWJS_PACKAGE}-{NSFWJS_VERSION}.tgz"


def fetch_nsfwjs(models_dir: Path, npm: str = "npm") -> Path:
    """The pinned nsfwjs tarball in the models cache, fetched with `npm pack` when absent; SHA-256 checked."""
    path = tarball_path(models_dir)
    if not (path.is_file() and sha256_file(path) == NSFWJS_TARBALL_SHA256):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        _npm(npm, ["pack", f"{NSFWJS_PACKAGE}@{NSFWJS_VERSION}", "--pack-destination", "."], path.parent)
    if not path.is_file():
        raise ModelFileError(f"`npm pack {NSFWJS_PACKAGE}@{NSFWJS_VERSION}` did not produce {path}")
    digest = sha256_file(path)
    if digest != NSFWJS_TARBALL_SHA256:
        path.unlink()
        raise ModelFileError(f"{path}: SHA-256 {digest} is not the pinned {NSFWJS_TARBALL_SHA256}; refusing it")
    return path


def _npm(npm: str, args: list[str], cwd: Path) -> None:
    if shutil.which(npm) is None:
        raise ModelFileError(f"the npm client ({npm!r}) is not installed: install Node.js 20+ and npm, then re-run")
    done = subprocess.run([npm, *args, "--no-audit", "--no-fund"], cwd=cwd, capture_output=True, text=True,
                          timeout=NPM_TIMEOUT_S, check=False)  # fmt: skip
    if done.returncode != 0:
        raise ModelFileError(f"`npm {' '.join(args)}` failed: {done.stderr.strip()[-500:]}")


def unpack(tarball: Path, into: Path) -> Path:
    """Extract the package (the `data` filter refuses links and paths outside `into`); returns its root."""
    root = into / "package"
    if not (root / "package.json").is_file():
        into.mkdir(parents=True, exist_ok=True)
        with tarfile.open(tarball) as archive:
            archive.extractall(into, filter="data")
    return root


def convert(model: ModelSpec, package_root: Path, models_dir: Path) -> Path:
    """Convert one nsfwjs model folder to ONNX in the models folder (written atomically)."""
    tfjs = read_tfjs_model(package_root / model.package_file)
    target = models_dir / model.file_name
    to_onnx = graph_to_onnx if tfjs.format == "graph-model" else keras_to_onnx
    with tempfile.NamedTemporaryFile(dir=models_dir, suffix=".onnx.tmp", delete=False) as tmp:
        tmp.write(to_onnx(tfjs.topology, tfjs.weights, model.name).SerializeToString())
    os.replace(tmp.name, target)
    onnx.checker.check_model(str(target))
    return target


def setup_models(models_dir: Path, *, force: bool = False, npm: str = "npm") -> dict[str, Any]:
    """Make the models folder complete and write its manifest; returns the manifest."""
    models_dir.mkdir(parents=True, exist_ok=True)
    current = {} if force else _current_entries(models_dir)
    entries: dict[str, Any] = {}
    package_root: Path | None = None
    for name, model in MODELS.items():
        if name in current:
            entries[name] = current[name]
            continue
        if model.source_kind == "npm":
            tarball = fetch_nsfwjs(models_dir, npm)
            package_root = package_root or unpack(tarball, models_dir / "cache" / f"nsfwjs-{NSFWJS_VERSION}")
            path = convert(model, package_root, models_dir)
            entries[name] = manifest_entry(model, path, sha256_file(path), f"sha256:{NSFWJS_TARBALL_SHA256}")
        else:
            entries[name] = _wheel_entry(model)
        log.info("visual_model_ready", model=name, file=entries[name]["file"])
    manifest = {"schema_version": MANIFEST_SCHEMA_VERSION, "models": entries}
    manifest_path(models_dir).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def _wheel_entry(model: ModelSpec) -> dict[str, Any]:
    path = package_path(model.package_file)
    if not path.is_file():
        raise ModelFileError(f"model file {path} is missing from {model.package}: reinstall it (`make setup`)")
    digest = sha256_file(path)
    if digest != model.file_sha256:
        raise ModelFileError(f"model file {path} ({model.package} {model.version}) has SHA-256 {digest}, "
                             f"pinned {model.file_sha256}: reinstall `{model.package}=={model.version}`")  # fmt: skip
    return manifest_entry(model, path, digest, f"sha256:{digest}")


def _current_entries(models_dir: Path) -> dict[str, Any]:
    """Manifest entries whose files still match (and whose model is still catalogued as is)."""
    try:
        entries: dict[str, Any] = read_manifest(models_dir)["models"]
    except ModelFileError:
        return {}
    keep = {}
    for name, entry in entries.items():
        path = Path(entry.get("file", ""))
        same = name in MODELS and entry.get("version") == MODELS[name].version and path.is_file()
        if same and path.stat().st_size == entry.get("size_bytes") and sha256_file(path) == entry.get("sha256"):
            keep[name] = entry
    return keep


def install_node_reference(node_dir: Path, models_dir: Path, npm: str = "npm") -> Path:
    """Install @tensorflow/tfjs (pinned) and the pinned nsfwjs tarball into `node_dir` for `models verify`."""
    tarball = fetch_nsfwjs(models_dir, npm)
    node_dir.mkdir(parents=True, exist_ok=True)
    wanted = json.loads(NODE_PACKAGE_JSON.read_text(encoding="utf-8"))
    wanted["dependencies"][NSFWJS_PACKAGE] = f"file:{tarball.resolve()}"
    package_json = node_dir / "package.json"
    if not (package_json.is_file() and json.loads(package_json.read_text()) == wanted and _installed(node_dir)):
        package_json.write_text(json.dumps(wanted, indent=2) + "\n", encoding="utf-8")
        _npm(npm, ["install", "--ignore-scripts", "--no-package-lock"], node_dir)
    shutil.copyfile(NODE_REFERENCE_SCRIPT, node_dir / NODE_REFERENCE_SCRIPT.name)
    return node_dir


def _installed(node_dir: Path) -> bool:
    modules = node_dir / "node_modules"
    return all((modules / p / "package.json").is_file() for p in ("@tensorflow/tfjs", "nsfwjs", "jpeg-js"))
