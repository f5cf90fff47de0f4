"""Frame preprocessing without torchvision: resize, normalise and patchify frames the way Qwen's video processor
does (frames grouped by the temporal patch, patches ordered by merge window)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from guardstream.engines.safewatch.families.base import VisionSpec

DEFAULT_FRAME_INTERVAL_S = 1.0


@dataclass(frozen=True)
class VideoPatches:
    patches: torch.Tensor  # (grid_t·grid_h·grid_w, 3·temporal_patch·patch²)
    grid_thw: tuple[int, int, int]
    seconds_per_grid: float
    token_frames: tuple[tuple[int, ...], ...]  # per merged visual token: positions in the request's frame list

    @property
    def n_tokens(self) -> int:
        return len(self.token_frames)


def target_size(height: int, width: int, factor: int, max_edge: int) -> tuple[int, int]:
    """Round each edge to a multiple of `factor` (at least one), scaling down first if an edge exceeds max_edge."""
    scale = min(1.0, max_edge / max(height, width))
    cap = max(factor, (max_edge // factor) * factor)

    def edge(value: int) -> int:
        return int(min(cap, max(factor, round(value * scale / factor) * factor)))

    return edge(height), edge(width)


def normalise(pixels: np.ndarray, spec: VisionSpec, size_hw: tuple[int, int]) -> torch.Tensor:
    """uint8 (N, H, W, 3) → float (N, 3, h, w), resized (bicubic, antialiased), scaled to [0, 1], CLIP-normalised."""
    video = torch.from_numpy(np.ascontiguousarray(pixels)).permute(0, 3, 1, 2).float()
    if tuple(video.shape[-2:]) != size_hw:
        video = torch.nn.functional.interpolate(
            video, size=size_hw, mode="bicubic", antialias=True, align_corners=False
        ).clamp(0, 255)
    mean = torch.tensor(spec.mean).view(1, 3, 1, 1)
    std = torch.tensor(spec.std).view(1, 3, 1, 1)
    return (video / 255.0 - mean) / std


def patchify(video: torch.Tensor, spec: VisionSpec) -> tuple[torch.Tensor, tuple[int, int, int]]:
    """(N, 3, h, w) → flattened patches in Qwen order; pads N to the temporal patch by repeating the last frame."""
    tps, ps, ms = spec.temporal_patch_size, spec.patch_size, spec.merge_size
    if pad := -video.shape[0] % tps:
        video = torch.cat([video, video[-1:].expand(pad, -1, -1, -1)])
    n, c, h, w = video.shape
    gt, gh, gw = n // tps, h // ps, w // ps
    x = video.reshape(gt, tps, c, gh // ms, ms, ps, gw // ms, ms, ps)
    x = x.permute(0, 3, 6, 4, 7, 2, 1, 5, 8)
    return x.reshape(gt * gh * gw, c * tps * ps * ps).contiguous(), (gt, gh, gw)


def seconds_per_grid(timestamps_s: tuple[float, ...], temporal_patch: int) -> float:
    """Seconds covered by one temporal grid step (mean frame interval × temporal patch)."""
    steps = np.diff(np.asarray(timestamps_s, dtype=np.float64))
    interval = float(steps.mean()) if len(steps) and steps.mean() > 0 else DEFAULT_FRAME_INTERVAL_S
    return interval * temporal_patch


def prepare_video(pixels: np.ndarray, timestamps_s: tuple[float, ...], spec: VisionSpec, max_edge: int) -> VideoPatches:
    """Everything the vision tower and the evidence need from one upload's frames."""
    size = target_size(pixels.shape[1], pixels.shape[2], spec.factor, max_edge)
    patches, grid = patchify(normalise(pixels, spec, size), spec)
    per_step = (grid[1] // spec.merge_size) * (grid[2] // spec.merge_size)
    n = len(pixels)
    token_frames = tuple(
        tuple(sorted({min(n - 1, t * spec.temporal_patch_size + k) for k in range(spec.temporal_patch_size)}))
        for t in range(grid[0])
        for _ in range(per_step)
    )
    return VideoPatches(patches, grid, seconds_per_grid(timestamps_s, spec.temporal_patch_size), token_frames)
