"""Decoding real (synthesized) clips with each backend and spec: the right frames, the same pixels, the cost."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest

from guardstream.operators.frames import IsolatedDecoder, SampledMedia, SampleSpec, sample_media
from guardstream.pipeline.settings import LimitSettings, SamplingSettings
from tests.operators.frames_clips import SHARED_MEDIA, WIDTH, frame_pixels, make_clip, read_code

BACKENDS = ("pyav", "decord", "torchcodec")
SPECS = ("uniform", "fps", "keyframe", "scene")
FPS = 25
LIMITS = LimitSettings()


def sampling(backend: str = "pyav", **update: object) -> SamplingSettings:
    """Frame size = clip width, so the letterboxed frame keeps the bar code at scale 1."""
    return SamplingSettings(backend=backend, isolate=False, frame_size=WIDTH, **update)  # type: ignore[arg-type]


def codes(result: SampledMedia) -> list[int]:
    top = (WIDTH - 240) // 2  # letterbox padding above the 320x240 clip
    return [read_code(frame[top : top + 240]) for frame in result.frames.pixels]


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("clips") / "clip.mp4", frames=100, fps=FPS, gop=25)


@pytest.fixture(scope="module")
def shots_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("clips") / "shots.mp4"
    return make_clip(path, frames=90, fps=FPS, gop=250, shots=(30, 60))


@pytest.fixture(scope="module")
def worker() -> Iterator[IsolatedDecoder]:
    decoder = IsolatedDecoder(LIMITS, recycle_after=50, backends=BACKENDS)
    yield decoder
    decoder.close()


def run(path: Path, backend: str, spec: str, worker: IsolatedDecoder, **spec_fields: object) -> SampledMedia:
    settings = sampling(backend)
    return sample_media(
        path, SampleSpec.from_settings(settings, kind=spec, **spec_fields), settings, LIMITS,
        trusted_path=True, decoder=worker,
    )  # fmt: skip


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("spec", SPECS)
def test_backend_returns_the_frames_it_names(clip: Path, backend: str, spec: str, worker: IsolatedDecoder) -> None:
    result = run(clip, backend, spec, worker)
    assert result.frames_used == len(result.frames) > 0
    assert codes(result) == list(result.frames.indices)  # the pixels are the frames the indices name
    for index, ts in zip(result.frames.indices, result.frames.timestamps_s, strict=True):
        assert abs(ts - index / FPS) < 1 / FPS
    assert result.frames.pixels.dtype == np.uint8 and result.frames.pixels.shape[1:] == (WIDTH, WIDTH, 3)


@pytest.mark.parametrize("spec", SPECS)
def test_three_backends_agree_within_one_lsb(clip: Path, spec: str, worker: IsolatedDecoder) -> None:
    results = [run(clip, backend, spec, worker) for backend in BACKENDS]
    reference = results[0]
    for other in results[1:]:
        assert other.frames.indices == reference.frames.indices
        diff = np.abs(other.frames.pixels.astype(np.int16) - reference.frames.pixels.astype(np.int16))
        assert diff.max() <= 1


def test_keyframe_spec_decodes_at_most_two_per_frame_used(clip: Path, worker: IsolatedDecoder) -> None:
    exact = run(clip, "pyav", "uniform", worker)
    snapped = run(clip, "pyav", "keyframe", worker)
    assert snapped.frames_decoded / snapped.frames_used <= 2
    assert exact.frames_decoded > snapped.frames_decoded  # exact targets decode forward from keyframes
    assert exact.frames_decoded < 100  # seeking: never the whole clip for 8 frames


def test_scene_spec_returns_one_frame_per_shot(shots_clip: Path, worker: IsolatedDecoder) -> None:
    result = run(shots_clip, "pyav", "scene", worker)
    assert result.frames.indices == (0, 30, 60)
    assert codes(result) == [0, 30, 60]


def test_fps_spec_samples_the_rate(clip: Path, worker: IsolatedDecoder) -> None:
    result = run(clip, "pyav", "fps", worker, fps=2.0)
    assert len(result.frames) == 8  # 4 s at 2 fps
    assert [round(t * 2) for t in result.frames.timestamps_s] == list(range(8))


def test_isolated_and_in_process_results_are_identical(clip: Path, worker: IsolatedDecoder) -> None:
    settings = sampling("pyav")
    spec = SampleSpec.from_settings(settings)
    local = sample_media(clip, spec, settings, LIMITS, trusted_path=True)
    isolated = worker.sample(clip, spec, settings)
    assert isolated.frames.indices == local.frames.indices
    assert np.array_equal(isolated.frames.pixels, local.frames.pixels)
    assert isolated.frames_decoded == local.frames_decoded


def test_worker_is_recycled_after_n_uploads(clip: Path) -> None:
    decoder = IsolatedDecoder(LIMITS, recycle_after=2)
    try:
        settings = sampling("pyav")
        spec = SampleSpec.from_settings(settings, frames=1)
        pids = []
        for _ in range(3):
            decoder.sample(clip, spec, settings)
            pids.append(decoder.pid)
        assert pids[0] == pids[1] != pids[2] and decoder.starts == 2
    finally:
        decoder.close()


@pytest.mark.parametrize(("suffix", "fmt"), [(".jpg", "JPEG"), (".png", "PNG"), (".webp", "WEBP"), (".gif", "GIF")])
def test_images_go_through_the_same_call(tmp_path: Path, suffix: str, fmt: str) -> None:
    from PIL import Image

    path = tmp_path / f"image{suffix}"
    first, second = (Image.fromarray(frame_pixels(i)) for i in (5, 9))
    first.save(path, format=fmt, **({"save_all": True, "append_images": [second]} if fmt == "GIF" else {}))
    settings = sampling("pyav")
    result = sample_media(path, SampleSpec.from_settings(settings), settings, LIMITS, trusted_path=True)
    assert result.media_type == "image" and result.frames_used == result.frames_decoded == 1
    assert codes(result) == [5]  # GIF: the first frame


@pytest.mark.media
@pytest.mark.skipif(not (SHARED_MEDIA / "video").is_dir(), reason="../shared/media/video not present")
@pytest.mark.parametrize("name", sorted(p.name for p in (SHARED_MEDIA / "video").glob("*.mp4")))
def test_shared_clips_decode_the_same_with_every_backend(name: str, worker: IsolatedDecoder) -> None:
    path = SHARED_MEDIA / "video" / name
    results = [run(path, backend, "uniform", worker, frames=4) for backend in BACKENDS]
    with av.open(str(path)) as container:
        frame_count = container.streams.video[0].frames
    assert results[0].probe["frame_count"] == frame_count
    for other in results[1:]:
        assert other.frames.indices == results[0].frames.indices
        diff = np.abs(other.frames.pixels.astype(np.int16) - results[0].frames.pixels.astype(np.int16))
        assert diff.max() <= 1, f"{other.backend} differs from pyav by {diff.max()}"
