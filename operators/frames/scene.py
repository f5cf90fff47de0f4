"""Scene-change sampling from a cheap pass: decode only keyframes, as tiny grey thumbnails, and start a new
shot where the grey-level histogram jumps. Encoders place keyframes at cuts (x264's scenecut), so shots are
found at keyframe resolution; cuts inside a long fixed GOP are not seen."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import numpy as np

from guardstream.operators.frames.errors import MediaError
from guardstream.operators.frames.probe import VideoProbe, open_video
from guardstream.schemas.dead_letter import Stage

THUMB_W, THUMB_H, BINS = 64, 36, 32


def histogram(grey: np.ndarray) -> np.ndarray:
    """Normalised grey-level histogram with BINS bins."""
    counts = np.bincount((grey.ravel() // (256 // BINS)).astype(np.int64), minlength=BINS).astype(np.float64)
    normalised: np.ndarray = counts / max(1.0, counts.sum())
    return normalised


def shot_starts(histograms: list[np.ndarray], threshold: float, max_shots: int) -> list[int]:
    """Positions in `histograms` that start a shot: the first, then those whose distance to the previous one
    (half the L1 distance, in [0, 1]) exceeds `threshold`; the strongest cuts are kept when over `max_shots`."""
    if not histograms:
        return []
    jumps = [(0.5 * float(np.abs(b - a).sum()), i) for i, (a, b) in enumerate(itertools.pairwise(histograms), 1)]
    cuts = sorted((j for j in jumps if j[0] > threshold), reverse=True)[: max(0, max_shots - 1)]
    return sorted([0, *(i for _, i in cuts)])


def keyframe_histograms(path: Path, probe: VideoProbe, deadline: float) -> tuple[list[int], list[np.ndarray]]:
    """Decode keyframes only; (frame index, histogram) for each."""
    index_of = {p: i for i, p in enumerate(probe.pts)}
    indices, hists = [], []
    with open_video(path, probe.container) as container:
        stream = container.streams.video[0]
        stream.codec_context.skip_frame = "NONKEY"
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            if frame.pts in index_of:
                indices.append(index_of[frame.pts])
                hists.append(histogram(frame.to_ndarray(width=THUMB_W, height=THUMB_H, format="gray")))
            if time.monotonic() > deadline:
                raise MediaError(Stage.DECODE, "scene pass exceeded the per-upload time limit")
    return indices, hists


def select_scene_indices(
    path: Path, probe: VideoProbe, threshold: float, max_shots: int, deadline: float
) -> tuple[list[int], int]:
    """(one frame index per shot, frames decoded by the pass)."""
    indices, hists = keyframe_histograms(path, probe, deadline)
    if not indices:
        raise MediaError(Stage.DECODE, "no keyframe could be decoded")
    return [indices[i] for i in shot_starts(hists, threshold, max_shots)], len(indices)
