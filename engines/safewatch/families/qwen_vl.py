"""Qwen2-VL and Qwen2.5-VL: same decoder and M-RoPE; Qwen2.5-VL also spaces temporal positions by real time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from guardstream.engines.safewatch.families.base import Backbone, VisionSpec, fingerprint
from guardstream.engines.safewatch.families.hf_folder import (
    CLIP_MEAN,
    CLIP_STD,
    TOKENIZER,
    check_folder,
    check_special_tokens,
    vision_spec,
)

VIDEO_TOKEN_TYPE = 2  # mm_token_type_ids: text 0, image 1, video 2


class QwenVLBackbone(Backbone):
    def __init__(
        self, model: Any, tokenizer: object, family: str, model_version: str, spec: VisionSpec | None = None
    ) -> None:
        self.family = family
        self.model = model
        self.tokenizer = tokenizer
        inner = model.model  # a Hugging Face Qwen2(.5)-VL model: its submodules are untyped attributes
        text = inner.language_model
        self.layers, self.embed, self.norm = text.layers, text.embed_tokens, text.norm
        self.lm_head = model.lm_head
        self._rotary = text.rotary_emb
        config = model.config
        vision = config.vision_config
        self.vision = spec or VisionSpec(
            vision.patch_size, vision.spatial_merge_size, vision.temporal_patch_size, CLIP_MEAN, CLIP_STD
        )
        self.video_token_id = int(config.video_token_id)
        eos = config.text_config.eos_token_id
        self.eos_token_id = int(eos[0] if isinstance(eos, list) else eos)
        self.model_version = model_version
        self._time_scaled = family == "qwen2_5_vl"

    @torch.no_grad()
    def encode_video(self, patches: torch.Tensor, grid_thw: tuple[int, int, int]) -> torch.Tensor:
        grid = torch.tensor([grid_thw], dtype=torch.long)
        out = self.model.model.get_video_features(patches, grid, return_dict=True)
        return torch.cat(out.pooler_output, dim=0)

    def positions(
        self, input_ids: torch.Tensor, grid_thw: tuple[int, int, int] | None, seconds_per_grid: float
    ) -> torch.Tensor:
        ids = input_ids.view(1, -1)
        if grid_thw is None:
            return torch.arange(ids.shape[1]).view(1, -1).expand(3, -1).clone()
        types = (ids == self.video_token_id).to(torch.int32) * VIDEO_TOKEN_TYPE
        extra = {"second_per_grid_ts": torch.tensor([seconds_per_grid])} if self._time_scaled else {}
        pos: torch.Tensor
        pos, _ = self.model.model.get_rope_index(
            ids, mm_token_type_ids=types, video_grid_thw=torch.tensor([grid_thw]), **extra
        )
        return pos[:, 0, :]

    def rotary(self, hidden: torch.Tensor, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        cos, sin = self._rotary(hidden, positions)
        return cos, sin


def load(checkpoint: Path, family: str, model_version: str | None) -> QwenVLBackbone:
    """A standard Hugging Face Qwen2.5-VL / Qwen2-VL folder (hub download or `make_checkpoint` output): checked,
    then loaded in float32 with eager attention (the guard drives the layers with its own float masks)."""
    from tokenizers import Tokenizer
    from transformers import PreTrainedModel, Qwen2_5_VLForConditionalGeneration, Qwen2VLForConditionalGeneration

    from guardstream.engines.safewatch.prompts import SPECIAL_TOKENS

    check_folder(checkpoint)
    cls: type[PreTrainedModel] = (
        Qwen2_5_VLForConditionalGeneration if family == "qwen2_5_vl" else Qwen2VLForConditionalGeneration
    )
    model = cls.from_pretrained(checkpoint, attn_implementation="eager", dtype=torch.float32).eval()
    tokenizer = Tokenizer.from_file(str(checkpoint / TOKENIZER))
    check_special_tokens(tokenizer, model.config, SPECIAL_TOKENS)
    spec = vision_spec(checkpoint, model.config.vision_config)
    return QwenVLBackbone(model, tokenizer, family, model_version or fingerprint(checkpoint), spec)
