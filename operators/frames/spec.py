"""Sampling specs and frame selection as plain functions: which frame indices to keep for a probed video."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from guardstream.operators.frames.settings import SamplingSettings

UNIFORM, FPS, KEYFRAME = "uniform", "fps", "keyframe"


@dataclass(frozen=True)
class SampleSpec:
    """What to sample: `frames` targets spread evenly (uniform/keyframe), `fps` per second, or one per shot."""

    kind: str = UNIFORM  # a registered sampler name (operators/frames/samplers.py)
    frames: int = 8
    fps: float = 1.0
    keyframe_tolerance_s: float = 1.0
    max_frames: int = 64
    scene_threshold: float = 0.3

    @classmethod
    def from_settings(cls, sampling: SamplingSettings, **overrides: object) -> SampleSpec:
        """The default spec from settings; `overrides` (e.g. kind="fps", frames=4) replace single fields."""
        values: dict[str, Any] = {
            "kind": sampling.spec,
            "frames": sampling.frames,
            "fps": sampling.fps,
            "keyframe_tolerance_s": sampling.keyframe_tolerance_s,
            "max_frames": sampling.max_frames_per_upload,
            "scene_threshold": sampling.scene_threshold,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        from guardstream.operators.frames.samplers import get_sampler

        get_sampler(str(values["kind"]))  # an unknown name fails here, naming the registered ones
        return cls(**values)


def nearest_index(timestamps_s: Sequence[float], target_s: float) -> int:
    """Index of the frame whose timestamp is closest to `target_s` (timestamps sorted ascending)."""
    i = bisect.bisect_left(timestamps_s, target_s)
    if i == 0:
        return 0
    if i == len(timestamps_s):
        return len(timestamps_s) - 1
    return i if timestamps_s[i] - target_s < target_s - timestamps_s[i - 1] else i - 1


def uniform_targets_s(duration_s: float, count: int) -> list[float]:
    """`count` timestamps at the centres of equal segments of the clip."""
    return [(i + 0.5) * duration_s / count for i in range(count)]


def fps_targets_s(duration_s: float, fps: float, cap: int) -> list[float]:
    """One timestamp every 1/fps seconds from 0; thinned evenly to at most `cap`."""
    grid = [i / fps for i in range(max(1, int(duration_s * fps + 1e-9)))]
    if len(grid) <= cap:
        return grid
    return [grid[round(i * (len(grid) - 1) / (cap - 1))] if cap > 1 else grid[0] for i in range(cap)]


def snap_to_keyframes(
    indices: Sequence[int], timestamps_s: Sequence[float], keyframes: Sequence[int], tolerance_s: float
) -> list[int]:
    """Move each index to the nearest keyframe when that keyframe is within `tolerance_s`; else keep it."""
    key_ts = [timestamps_s[k] for k in keyframes]
    snapped = []
    for index in indices:
        k = keyframes[nearest_index(key_ts, timestamps_s[index])] if keyframes else index
        snapped.append(k if abs(timestamps_s[k] - timestamps_s[index]) <= tolerance_s else index)
    return snapped


def select_frame_indices(
    timestamps_s: Sequence[float], keyframes: Sequence[int], duration_s: float, spec: SampleSpec
) -> list[int]:
    """Sorted unique frame indices for a uniform, fps or keyframe spec (scene specs use `scene.py`)."""
    if not timestamps_s:
        return []
    if spec.kind == FPS:
        targets = fps_targets_s(duration_s, spec.fps, spec.max_frames)
    else:
        targets = uniform_targets_s(duration_s, min(spec.frames, spec.max_frames))
    indices = [nearest_index(timestamps_s, t) for t in targets]
    if spec.kind == KEYFRAME:
        indices = snap_to_keyframes(indices, timestamps_s, keyframes, spec.keyframe_tolerance_s)
    return sorted(set(indices))


def decode_cost(indices: Sequence[int], keyframes: Sequence[int]) -> int:
    """Frames a seek-to-keyframe-then-decode-forward reader decodes to produce `indices` (sorted)."""
    decoded, position = 0, -1  # position: last decoded index
    for index in indices:
        start = keyframes[max(0, bisect.bisect_right(keyframes, index) - 1)] if keyframes else 0
        if position < index and start <= position + 1:
            decoded += index - position
        else:
            decoded += index - start + 1
        position = index
    return decoded
