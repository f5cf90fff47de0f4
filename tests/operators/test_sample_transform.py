"""SampleFrames on a real Beam pipeline (FnApiRunner): frames out, refusals as dead letters, nothing lost."""

from __future__ import annotations

from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline as BeamPipeline
from apache_beam.testing.util import assert_that, equal_to

from guardstream.operators.envelope import Envelope
from guardstream.operators.sample import SampleFrames
from guardstream.pipeline.settings import LimitSettings, SamplingSettings
from guardstream.schemas.dead_letter import Stage
from tests.conftest import make_event
from tests.operators.frames_clips import make_clip


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("uploads")
    make_clip(folder / "clip.mp4", frames=50, fps=25, gop=25)
    (folder / "noise.mp4").write_bytes(b"\x00" * 4096)
    return folder


EXPECTED_FAILURES = [
    (b"noise", Stage.PROBE),
    (b"outside", Stage.FETCH),
    (b"typed", Stage.PROBE),
    (b"unparsed", Stage.FETCH),
]


def test_sample_frames_splits_good_and_bad_uploads(media: Path) -> None:
    sampling = SamplingSettings(frames=3, isolate=True, spec="uniform")  # exact frames
    limits = LimitSettings(allowed_roots=(media,))
    uploads = [
        Envelope(payload=b"ok", event=make_event(1, media_uri=f"file://{media}/clip.mp4")),
        Envelope(payload=b"noise", event=make_event(2, media_uri=f"file://{media}/noise.mp4")),
        Envelope(payload=b"outside", event=make_event(3, media_uri="file:///etc/hostname")),
        Envelope(payload=b"typed", event=make_event(4, media_uri=f"file://{media}/clip.mp4", media_type="image")),
        Envelope(payload=b"unparsed"),
    ]
    with BeamPipeline() as pipeline:
        out = pipeline | beam.Create(uploads) | SampleFrames(sampling, limits)
        assert_that(
            out.frames | beam.Map(lambda pair: (pair[0].payload, pair[1].frames_used, pair[1].frames.pixels.shape)),
            equal_to([(b"ok", 3, (3, 224, 224, 3))]),
            label="frames",
        )
        assert_that(
            out.failed | beam.Map(lambda d: (d.payload, d.stage)),
            equal_to(EXPECTED_FAILURES),
            label="failed",
        )
