"""Backbone families. Everything tied to one model family (classes, how to run its vision tower, how it assigns
3-D positions) lives in that family's module; the rest of the guard sees only `Backbone`."""

from __future__ import annotations

import json
from pathlib import Path

from guardstream.engines.safewatch.families.base import Backbone, BackboneError

FAMILY_MODULES: dict[str, str] = {
    "qwen2_5_vl": "guardstream.engines.safewatch.families.qwen_vl",
    "qwen2_vl": "guardstream.engines.safewatch.families.qwen_vl",
}


def load_backbone(checkpoint: Path, model_version: str | None = None) -> Backbone:
    """Load the checkpoint folder with the family its config.json names."""
    import importlib

    config_path = Path(checkpoint) / "config.json"
    if not config_path.is_file():
        raise BackboneError(f"no config.json in checkpoint folder {checkpoint}")
    model_type = json.loads(config_path.read_text()).get("model_type", "")
    if model_type not in FAMILY_MODULES:
        raise BackboneError(f"unsupported model_type {model_type!r}; supported: {sorted(FAMILY_MODULES)}")
    module = importlib.import_module(FAMILY_MODULES[model_type])
    backbone: Backbone = module.load(Path(checkpoint), model_type, model_version)
    return backbone


__all__ = ["Backbone", "BackboneError", "load_backbone"]
