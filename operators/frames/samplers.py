"""The frame-sampler seam: a sampler chooses which frame indices of a probed video to decode. Adding one is a
class here (or in its own module) plus a line in `SAMPLERS`; settings, the CLI and the conformance suite
(tests/operators/test_sampler_conformance.py) all read this registry, so nothing else changes."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

from guardstream.operators.frames.probe import VideoProbe
from guardstream.operators.frames.scene import select_scene_indices
from guardstream.operators.frames.spec import SampleSpec, select_frame_indices


class FrameSampler(ABC):
    """Chooses frames. Required: `select`; `exact` says whether targets are exact frames (vs snapped/shots)."""

    name: ClassVar[str]
    exact: ClassVar[bool] = True

    @abstractmethod
    def select(self, path: Path, probe: VideoProbe, spec: SampleSpec, deadline: float) -> tuple[list[int], int]:
        """(sorted unique frame indices to decode, frames this choice itself decoded — 0 unless it looks)."""


class UniformSampler(FrameSampler):
    """`frames` targets at the centres of equal segments, each the nearest frame (exact timestamps)."""

    name = "uniform"

    def select(self, path: Path, probe: VideoProbe, spec: SampleSpec, deadline: float) -> tuple[list[int], int]:
        return select_frame_indices(probe.timestamps_s, probe.keyframes, probe.duration_s, spec), 0


class FpsSampler(UniformSampler):
    """One frame every 1/fps seconds, thinned evenly to `max_frames`."""

    name = "fps"


class KeyframeSampler(UniformSampler):
    """Uniform targets snapped to the nearest keyframe within `keyframe_tolerance_s` (cheap to decode)."""

    name = "keyframe"
    exact = False


class SceneSampler(FrameSampler):
    """One frame per shot (a keyframe-resolution histogram pass finds the cuts)."""

    name = "scene"
    exact = False

    def select(self, path: Path, probe: VideoProbe, spec: SampleSpec, deadline: float) -> tuple[list[int], int]:
        return select_scene_indices(path, probe, spec.scene_threshold, spec.max_frames, deadline)


SAMPLERS: dict[str, type[FrameSampler]] = {
    s.name: s for s in (UniformSampler, FpsSampler, KeyframeSampler, SceneSampler)
}


def get_sampler(name: str) -> FrameSampler:
    """The sampler registered under `name`; ValueError naming the registered ones otherwise."""
    try:
        return SAMPLERS[name]()
    except KeyError:
        raise ValueError(f"unknown frame sampler {name!r}; registered: {sorted(SAMPLERS)}") from None
