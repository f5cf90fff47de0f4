"""A standard Hugging Face checkpoint folder, checked before anything loads: what a user points
`guards.checkpoint` at (a Qwen2.5-VL / Qwen2-VL download, or one of the project's random checkpoints, which have
the same layout). Every problem is a BackboneError naming the file and what fixes it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from guardstream.engines.safewatch.families.base import BackboneError, VisionSpec

CONFIG = "config.json"
TOKENIZER = "tokenizer.json"
PREPROCESSOR = "preprocessor_config.json"
WEIGHTS = "model.safetensors"
WEIGHTS_INDEX = "model.safetensors.index.json"
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def check_folder(checkpoint: Path) -> None:
    """config.json, safetensors weights (one file, or an index and every shard it names) and tokenizer.json."""
    if not checkpoint.is_dir():
        raise BackboneError(f"checkpoint folder {checkpoint} does not exist (set guards.checkpoint to a folder)")
    if not (checkpoint / CONFIG).is_file():
        raise BackboneError(f"no {CONFIG} in checkpoint folder {checkpoint}")
    if not (checkpoint / TOKENIZER).is_file():
        raise BackboneError(
            f"no {TOKENIZER} in checkpoint folder {checkpoint}: copy the model's fast-tokenizer file (every "
            "Qwen2.5-VL release ships one) or save it with tokenizer.save_pretrained(folder)"
        )
    _check_weights(checkpoint)


def _check_weights(checkpoint: Path) -> None:
    index = checkpoint / WEIGHTS_INDEX
    if index.is_file():
        try:
            shards = set(json.loads(index.read_text())["weight_map"].values())
        except (ValueError, KeyError, TypeError) as exc:
            raise BackboneError(f"{index} is not a safetensors index ({type(exc).__name__})") from None
        missing = sorted(s for s in shards if not (checkpoint / s).is_file())
        if missing:
            raise BackboneError(f"{index} names shards missing from the folder: {missing}")
        return
    if not (checkpoint / WEIGHTS).is_file():
        found = sorted(p.name for p in checkpoint.glob("*.bin"))
        hint = f" (found {found}: only safetensors are loaded; re-save with save_pretrained)" if found else ""
        raise BackboneError(f"no weights in {checkpoint}: expected {WEIGHTS} or {WEIGHTS_INDEX} + shards{hint}")


def vision_spec(checkpoint: Path, vision_config: Any) -> VisionSpec:
    """Patch geometry from the model config; normalisation from preprocessor_config.json when the folder has one
    (CLIP statistics otherwise). A preprocessor that disagrees with the model's geometry is refused."""
    spec = VisionSpec(
        int(vision_config.patch_size), int(vision_config.spatial_merge_size), int(vision_config.temporal_patch_size),
        CLIP_MEAN, CLIP_STD,
    )  # fmt: skip
    path = checkpoint / PREPROCESSOR
    if not path.is_file():
        return spec
    try:
        raw = json.loads(path.read_text())
    except ValueError as exc:
        raise BackboneError(f"{path} is not JSON: {exc}") from None
    for key, want in (("patch_size", spec.patch_size), ("merge_size", spec.merge_size),
                      ("temporal_patch_size", spec.temporal_patch_size)):  # fmt: skip
        if key in raw and int(raw[key]) != want:
            raise BackboneError(f"{path}: {key} {raw[key]} disagrees with {CONFIG} vision_config ({want})")
    mean, std = _triple(raw.get("image_mean", CLIP_MEAN)), _triple(raw.get("image_std", CLIP_STD))
    if mean is None or std is None or min(std) <= 0:
        raise BackboneError(f"{path}: image_mean / image_std must be three numbers (std > 0)")
    return VisionSpec(spec.patch_size, spec.merge_size, spec.temporal_patch_size, mean, std)


def _triple(value: Any) -> tuple[float, float, float] | None:
    if not isinstance(value, list | tuple) or len(value) != 3:
        return None
    try:
        return float(value[0]), float(value[1]), float(value[2])
    except (TypeError, ValueError):
        return None


def check_special_tokens(tokenizer: Any, config: Any, tokens: tuple[str, ...]) -> None:
    """Each chat/vision marker the prompts use is one token, and the vision markers are the ids the model
    config expects (a tokenizer from another model family fails here, not with silent nonsense)."""
    ids = {}
    for token in tokens:
        encoded = tokenizer.encode(token, add_special_tokens=False).ids
        if len(encoded) != 1:
            raise BackboneError(f"{TOKENIZER}: {token!r} is not a single token (got {len(encoded)} ids)")
        ids[token] = encoded[0]
    expected = {"<|video_pad|>": "video_token_id", "<|image_pad|>": "image_token_id",
                "<|vision_start|>": "vision_start_token_id", "<|vision_end|>": "vision_end_token_id"}  # fmt: skip
    for token, field in expected.items():
        want = getattr(config, field, None)
        if token in ids and want is not None and ids[token] != int(want):
            raise BackboneError(f"{TOKENIZER}: {token} is id {ids[token]}, but {CONFIG} {field} is {want}")
