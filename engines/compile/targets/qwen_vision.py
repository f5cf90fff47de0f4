"""The Qwen2.5-VL vision tower (patch embed + blocks + merger) for one frame grid, exportable with a dynamic
number of temporal slices.

Each temporal slice (two frames) is attended to on its own in Qwen2.5-VL — full-attention blocks per slice,
window blocks per window inside a slice — and rotary positions repeat per slice. So the tower over T slices of a
(grid_h, grid_w) grid is T independent towers over (1, grid_h, grid_w): `SliceTower` batches them. The window
layout, rotary tables and the final un-permutation are computed once per grid with transformers' own helpers and
become constants (the fixed grid); the slice axis stays dynamic (frame count × uploads batched together).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from guardstream.engines.compile.artifact import InputSpec
from guardstream.engines.compile.target import Feeds, Target

SUPPORTED_FAMILIES = ("qwen2_5_vl",)
MAX_SLICES_PER_UPLOAD = 32  # 64 frames (the guard's limit) over a temporal patch of 2


def slice_tower(visual: Any, grid_hw: tuple[int, int]) -> Any:
    """A torch module: patches (slices, grid_h·grid_w, patch_dim) → merged embeddings (slices·tokens, hidden)."""
    import torch
    from transformers.vision_utils import get_vision_position_ids, get_vision_window_index

    class SliceTower(torch.nn.Module):
        window: torch.Tensor
        unwindow: torch.Tensor
        win_gather: torch.Tensor
        win_back: torch.Tensor
        win_mask: torch.Tensor

        def __init__(self) -> None:
            super().__init__()
            self.visual = visual
            grid = torch.tensor([[1, *grid_hw]])
            merge = visual.spatial_merge_size
            self.unit, self.n = merge * merge, grid_hw[0] * grid_hw[1]
            window, cu = get_vision_window_index(grid, merge, visual.window_size, visual.patch_size)
            self.register_buffer("window", window, persistent=False)
            self.register_buffer("unwindow", torch.argsort(window), persistent=False)
            cos, sin = visual.rotary_pos_emb(torch.zeros(self.n, 1), get_vision_position_ids(grid, merge))
            self.register_buffer("cos", self._permute(cos).unsqueeze(1), persistent=False)
            self.register_buffer("sin", self._permute(sin).unsqueeze(1), persistent=False)
            gather, back, mask = _window_tables([int(n) for n in (cu[1:] - cu[:-1]).tolist()])
            self.register_buffer("win_gather", gather, persistent=False)
            self.register_buffer("win_back", back, persistent=False)
            self.register_buffer("win_mask", mask, persistent=False)
            self.full = set(visual.fullatt_block_indexes)

        def _permute(self, table: Any) -> Any:
            return table.reshape(self.n // self.unit, self.unit, -1)[self.window].reshape(self.n, -1)

        def _windows(self, t: Any) -> Any:
            b, _, heads, hd = t.shape
            n_win, length = self.win_mask.shape[0], self.win_mask.shape[-1]
            return t[:, self.win_gather].reshape(b, n_win, length, heads, hd).permute(0, 1, 3, 2, 4)

        def _attention(self, index: int, blk: Any, x: Any) -> Any:
            b = x.shape[0]
            q, k, v = blk.attn.qkv(x).reshape(b, self.n, 3, blk.attn.num_heads, -1).unbind(2)
            q, k = q * self.cos + _rotate_half(q) * self.sin, k * self.cos + _rotate_half(k) * self.sin
            if index in self.full:
                q, k, v = (t.transpose(1, 2) for t in (q, k, v))
                probs = torch.softmax(torch.matmul(q, k.transpose(-1, -2)) * blk.attn.scaling, dim=-1)
                return torch.matmul(probs, v).transpose(1, 2).reshape(b, self.n, -1)
            q, k, v = self._windows(q), self._windows(k), self._windows(v)
            scores = torch.matmul(q, k.transpose(-1, -2)) * blk.attn.scaling + self.win_mask
            out = torch.matmul(torch.softmax(scores, dim=-1), v).permute(0, 1, 3, 2, 4)
            return out.reshape(b, -1, out.shape[-2] * out.shape[-1])[:, self.win_back]

        def forward(self, patches: Any) -> Any:
            b = patches.shape[0]
            x = visual.patch_embed(patches.reshape(-1, patches.shape[-1]))
            x = x.reshape(b, self.n // self.unit, self.unit, -1)[:, self.window].reshape(b, self.n, -1)
            for index, blk in enumerate(visual.blocks):
                x = x + blk.attn.proj(self._attention(index, blk, blk.norm1(x)))
                x = x + blk.mlp(blk.norm2(x))
            merged = visual.merger(x.reshape(-1, x.shape[-1])).reshape(b, self.n // self.unit, -1)
            return merged[:, self.unwindow].reshape(-1, merged.shape[-1])

    return SliceTower().eval()


def _window_tables(lengths: list[int]) -> tuple[Any, Any, Any]:
    """Windows padded to the longest: gather indices, the positions of real tokens, an additive key mask."""
    import torch

    longest = max(lengths)
    gather = torch.zeros(len(lengths), longest, dtype=torch.long)
    valid = torch.zeros(len(lengths), longest, dtype=torch.bool)
    start = 0
    for i, n in enumerate(lengths):
        gather[i, :n] = torch.arange(start, start + n)
        valid[i, :n] = True
        start += n
    back = valid.flatten().nonzero().flatten()
    mask = torch.zeros(valid.shape).masked_fill(~valid, torch.finfo(torch.float32).min)
    return gather.flatten(), back, mask[:, None, None, :]


def _rotate_half(x: Any) -> Any:
    import torch

    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class QwenVisionTarget(Target):
    """The vision tower of a loaded Qwen2.5-VL backbone at one (grid_h, grid_w); reference = backbone.encode_video."""

    revision = "1"

    def __init__(self, backbone: Any, grid_hw: tuple[int, int]) -> None:
        if backbone.family not in SUPPORTED_FAMILIES:
            raise ValueError(f"vision export supports {SUPPORTED_FAMILIES}, not {backbone.family!r}")
        self.backbone = backbone
        self.grid_hw = grid_hw
        self.name = f"{backbone.family}-vision-{grid_hw[0]}x{grid_hw[1]}"
        spec = backbone.vision
        self.patch_dim = 3 * spec.temporal_patch_size * spec.patch_size**2
        self._module: Any = None

    def model_version(self) -> str:
        return str(self.backbone.model_version)

    def inputs(self) -> tuple[InputSpec, ...]:
        return (InputSpec("patches", "float32", ("slices", self.grid_hw[0] * self.grid_hw[1], self.patch_dim)),)

    def outputs(self) -> tuple[str, ...]:
        return ("embeds",)

    def module(self) -> Any:
        if self._module is None:
            self._module = slice_tower(self.backbone.model.model.visual, self.grid_hw)
        return self._module

    def axis_max(self, axis: str, settings: Any) -> int:
        """Slices: up to 64 frames per upload (32 temporal slices) times the batch of uploads."""
        return MAX_SLICES_PER_UPLOAD * int(settings.tensorrt_max_batch)

    def samples(self) -> list[Feeds]:
        rng = np.random.default_rng(0)
        n = self.grid_hw[0] * self.grid_hw[1]
        return [{"patches": rng.standard_normal((s, n, self.patch_dim)).astype(np.float32)} for s in (2, 1)]

    def reference(self, feeds: Feeds) -> list[np.ndarray]:
        import torch

        patches = torch.from_numpy(feeds["patches"])
        grid = (patches.shape[0], *self.grid_hw)
        out = self.backbone.encode_video(patches.reshape(-1, patches.shape[-1]), grid)
        return [out.detach().numpy()]
