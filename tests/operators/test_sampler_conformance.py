"""Every registered frame sampler (operators/frames/samplers.py SAMPLERS) passes the same checks on a
synthesized clip with shot changes, and the settings accept exactly the registered names."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from guardstream.operators.frames import SAMPLERS, SampleSpec, get_sampler
from guardstream.operators.frames.probe import probe_video, sniff_file
from guardstream.operators.frames.settings import LimitSettings, SamplingSettings
from tests.operators.frames_clips import make_clip


@pytest.fixture(scope="module")
def probed(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    path = make_clip(tmp_path_factory.mktemp("samplers") / "shots.mp4", frames=100, gop=25, shots=(40, 70))
    _, container = sniff_file(path)
    return path, probe_video(path, container, LimitSettings(), time.monotonic() + 60)


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_sampler_contract(name: str, probed: tuple[Path, object]) -> None:
    path, probe = probed
    spec = SampleSpec.from_settings(SamplingSettings(spec=name, frames=6, fps=2.0, max_frames_per_upload=10))
    sampler = get_sampler(name)
    indices, decoded = sampler.select(path, probe, spec, time.monotonic() + 60)  # type: ignore[arg-type]
    assert indices == sorted(set(indices)), "sorted, unique"
    assert indices and all(0 <= i < len(probe.timestamps_s) for i in indices)  # type: ignore[attr-defined]
    assert len(indices) <= spec.max_frames and decoded >= 0
    again, _ = sampler.select(path, probe, spec, time.monotonic() + 60)  # type: ignore[arg-type]
    assert again == indices, "deterministic"


def test_settings_accept_only_registered_samplers_and_backends() -> None:
    for name in SAMPLERS:
        assert SamplingSettings(spec=name).spec == name
    with pytest.raises(ValidationError, match="registered"):
        SamplingSettings(spec="every-third-frame")
    with pytest.raises(ValidationError, match="registered"):
        SamplingSettings(backend="gstreamer")
    with pytest.raises(ValueError, match="registered"):
        SampleSpec.from_settings(SamplingSettings(), kind="every-third-frame")
