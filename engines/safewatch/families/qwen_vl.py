"""Qwen2-VL and Qwen2.5-VL: same decoder and M-RoPE; Qwen2.5-VL also spaces temporal positions by real time."""

from __future__ import annotations

from pathlib import Path

import torch

from guardstream.engines.safewatch.families.base import Backbone, BackboneError, VisionSpec, fingerprint

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
VIDEO_TOKEN_TYPE = 2  # mm_token_type_ids: text 0, image 1, video 2


class QwenVLBackbone(Backbone):
    def __init__(self, model: object, tokenizer: object, family: str, model_version: str) -> None:
        self.family = family
        self.model = model
        self.tokenizer = tokenizer
        inner = model.model  # type: ignore[attr-defined]
        text = inner.language_model
        self.layers, self.embed, self.norm = text.layers, text.embed_tokens, text.norm
        self.lm_head = model.lm_head  # type: ignore[attr-defined]
        self._rotary = text.rotary_emb
        config = model.config  # type: ignore[attr-defined]
        vision = config.vision_config
        self.vision = VisionSpec(
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
        out = self.model.model.get_video_features(patches, grid, return_dict=True)  # type: ignore[attr-defined]
        return torch.cat(out.pooler_output, dim=0)

    def positions(
        self, input_ids: torch.Tensor, grid_thw: tuple[int, int, int] | None, seconds_per_grid: float
    ) -> torch.Tensor:
        ids = input_ids.view(1, -1)
        if grid_thw is None:
            return torch.arange(ids.shape[1]).view(1, -1).expand(3, -1).clone()
        types = (ids == self.video_token_id).to(torch.int32) * VIDEO_TOKEN_TYPE
        extra = {"second_per_grid_ts": torch.tensor([seconds_per_grid])} if self._time_scaled else {}
        pos, _ = self.model.model.get_rope_index(  # type: ignore[attr-defined]
            ids, mm_token_type_ids=types, video_grid_thw=torch.tensor([grid_thw]), **extra
        )
        return pos[:, 0, :]

    def rotary(self, hidden: torch.Tensor, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        cos, sin = self._rotary(hidden, positions)
        return cos, sin


def load(checkpoint: Path, family: str, model_version: str | None) -> QwenVLBackbone:
    from tokenizers import Tokenizer
    from transformers import Qwen2_5_VLForConditionalGeneration, Qwen2VLForConditionalGeneration

    tokenizer_path = checkpoint / "tokenizer.json"
    if not tokenizer_path.is_file():
        raise BackboneError(f"no tokenizer.json in checkpoint folder {checkpoint}")
    cls = Qwen2_5_VLForConditionalGeneration if family == "qwen2_5_vl" else Qwen2VLForConditionalGeneration
    model = cls.from_pretrained(checkpoint, attn_implementation="eager", dtype=torch.float32).eval()
    tokenizer = Tokenizer.from_file(str(tokenizer_path))
    return QwenVLBackbone(model, tokenizer, family, model_version or fingerprint(checkpoint))
