"""What the guard needs from a vision-language backbone, independent of its family."""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from guardstream.engines.safewatch.prompts import PROMPT_VERSION


class BackboneError(RuntimeError):
    """The checkpoint cannot be used by this guard (missing files, unsupported family)."""


@dataclass(frozen=True)
class VisionSpec:
    patch_size: int
    merge_size: int
    temporal_patch_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    @property
    def factor(self) -> int:
        """Frame edges must be multiples of this (one merged visual token covers factor × factor pixels)."""
        return self.patch_size * self.merge_size


class Backbone(ABC):
    """A decoder-only VLM whose text layers are Llama/Qwen2-style (q/k/v/o projections, RMSNorm, gated MLP).

    `layers`, `embed`, `norm` and `lm_head` are the model's own modules; the guard drives the layers itself so it
    can use block-diagonal masks, reuse cached KV and drop visual tokens mid-network.
    """

    family: str
    model: Any
    tokenizer: Any
    vision: VisionSpec
    layers: Any
    embed: Any
    norm: Any
    lm_head: Any
    video_token_id: int
    eos_token_id: int
    model_version: str

    @abstractmethod
    def encode_video(self, patches: torch.Tensor, grid_thw: tuple[int, int, int]) -> torch.Tensor:
        """Run the vision tower on flattened patches; return (grid_t·grid_h·grid_w / merge², hidden) embeddings."""

    @abstractmethod
    def positions(
        self, input_ids: torch.Tensor, grid_thw: tuple[int, int, int] | None, seconds_per_grid: float
    ) -> torch.Tensor:
        """3-D (temporal, height, width) position ids, shape (3, L), for a token run starting at position 0."""

    @abstractmethod
    def rotary(self, hidden: torch.Tensor, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """cos, sin for positions of shape (3, B, L)."""

    def token_ids(self, text: str) -> list[int]:
        ids: list[int] = self.tokenizer.encode(text, add_special_tokens=False).ids
        return ids

    def decode(self, ids: list[int]) -> str:
        text: str = self.tokenizer.decode(ids, skip_special_tokens=True)
        return text


def fingerprint(checkpoint: Path) -> str:
    """Model version for cache keys: config, tokenizer, preprocessor, weight-file sizes + first MiB, prompt version."""
    digest = hashlib.sha256(PROMPT_VERSION.encode())
    for name in ("config.json", "tokenizer.json", "preprocessor_config.json"):
        path = checkpoint / name
        if path.is_file():
            digest.update(path.read_bytes())
    for weights in sorted(checkpoint.glob("*.safetensors")):
        digest.update(f"{weights.name}:{weights.stat().st_size}".encode())
        with weights.open("rb") as handle:
            digest.update(handle.read(1 << 20))
    return f"sha256:{digest.hexdigest()[:16]}"
