"""Frame selection as plain functions: no decoding."""

from __future__ import annotations

import numpy as np
import pytest

from guardstream.operators.frames.errors import MediaError
from guardstream.operators.frames.probe import sniff
from guardstream.operators.frames.resize import letterbox
from guardstream.operators.frames.scene import histogram, shot_starts
from guardstream.operators.frames.spec import (
    SampleSpec,
    decode_cost,
    fps_targets_s,
    nearest_index,
    select_frame_indices,
    snap_to_keyframes,
    uniform_targets_s,
)
from guardstream.pipeline.settings import SamplingSettings
from guardstream.schemas.dead_letter import Stage

FPS = 25
TIMESTAMPS = [i / FPS for i in range(100)]
KEYFRAMES = [0, 25, 50, 75]


def test_nearest_index_rounds_to_the_closest_frame() -> None:
    assert nearest_index(TIMESTAMPS, 0.0) == 0
    assert nearest_index(TIMESTAMPS, 0.061) == 2
    assert nearest_index(TIMESTAMPS, 99.0) == 99


def test_uniform_targets_are_segment_centres() -> None:
    assert uniform_targets_s(4.0, 4) == [0.5, 1.5, 2.5, 3.5]


def test_fps_targets_are_thinned_to_the_cap() -> None:
    assert fps_targets_s(4.0, 2.0, cap=64) == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5]
    thinned = fps_targets_s(60.0, 10.0, cap=5)
    assert len(thinned) == 5 and thinned[0] == 0.0 and thinned[-1] == pytest.approx(59.9)


def test_uniform_indices_match_their_timestamps_within_one_frame() -> None:
    spec = SampleSpec(kind="uniform", frames=8)
    indices = select_frame_indices(TIMESTAMPS, KEYFRAMES, 4.0, spec)
    assert len(indices) == 8
    for index, target in zip(indices, uniform_targets_s(4.0, 8), strict=True):
        assert abs(TIMESTAMPS[index] - target) <= 1 / FPS


def test_keyframe_snap_moves_only_within_tolerance() -> None:
    assert snap_to_keyframes([3, 20, 40], TIMESTAMPS, KEYFRAMES, tolerance_s=0.2) == [0, 25, 40]
    assert snap_to_keyframes([3, 20, 40], TIMESTAMPS, KEYFRAMES, tolerance_s=1.0) == [0, 25, 50]


def test_keyframe_spec_decodes_one_frame_per_frame_used() -> None:
    spec = SampleSpec(kind="keyframe", frames=8, keyframe_tolerance_s=1.0)
    indices = select_frame_indices(TIMESTAMPS, KEYFRAMES, 4.0, spec)
    assert set(indices) <= set(KEYFRAMES)
    assert decode_cost(indices, KEYFRAMES) == len(indices)


def test_decode_cost_counts_seek_and_decode_forward() -> None:
    assert decode_cost([24], KEYFRAMES) == 25
    assert decode_cost([10, 20], KEYFRAMES) == 21  # one GOP, decoded forward once
    assert decode_cost([10, 30], KEYFRAMES) == 11 + 6  # second target seeks to keyframe 25


def test_spec_from_settings_takes_overrides() -> None:
    spec = SampleSpec.from_settings(SamplingSettings(), kind="fps", frames=None, fps=2.0)
    assert spec.kind == "fps" and spec.fps == 2.0 and spec.frames == SamplingSettings().frames


def test_shot_starts_finds_cuts_and_keeps_the_strongest() -> None:
    dark, light, mid = (histogram(np.full((8, 8), v, np.uint8)) for v in (10, 240, 128))
    hists = [dark, dark, light, light, mid]
    assert shot_starts(hists, threshold=0.3, max_shots=8) == [0, 2, 4]
    assert len(shot_starts(hists, threshold=0.3, max_shots=2)) == 2


def test_letterbox_keeps_aspect_and_pads() -> None:
    wide = np.full((100, 200, 3), 255, np.uint8)
    out = letterbox(wide, 64)
    assert out.shape == (64, 64, 3) and out.dtype == np.uint8
    assert out[0].max() == 0 and out[32].min() == 255  # padded top, image in the middle


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\x00\x00\x00\x20ftypisom", ("video", "mp4")),
        (b"\x1a\x45\xdf\xa3\x01", ("video", "matroska")),
        (b"\xff\xd8\xff\xe0", ("image", "jpeg")),
        (b"GIF89a", ("image", "gif")),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", ("image", "webp")),
    ],
)
def test_sniff_recognises_allowed_containers(head: bytes, expected: tuple[str, str]) -> None:
    assert sniff(head) == expected


@pytest.mark.parametrize(
    "head", [b"", b"#EXTM3U\n#EXTINF:1,\nfile:///etc/passwd", b"ffconcat version 1.0", b"\x00" * 32]
)
def test_sniff_refuses_everything_else(head: bytes) -> None:
    with pytest.raises(MediaError) as info:
        sniff(head)
    assert info.value.stage == Stage.PROBE
