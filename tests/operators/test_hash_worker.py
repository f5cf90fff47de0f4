"""Hashing runs in the contained decoder worker, in the same single decode pass as sampling; hostile media is
refused as for sampling; the worker's hash is re-validated by the parent."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from guardstream.engines.hashing import PdqSignal, VpdqSignal
from guardstream.engines.hashing.pdq import hamming
from guardstream.operators.frames import IsolatedDecoder, MediaError, SampleSpec
from guardstream.operators.frames.hash_media import hash_media
from guardstream.operators.frames.hashing import HashRequest, frame_mod
from guardstream.pipeline.settings import LimitSettings, SamplingSettings
from guardstream.schemas.dead_letter import Stage
from tests.operators.frames_clips import make_clip, png_header
from tests.operators.hash_media import make_texture_clip, texture, write_jpeg

SAMPLING = SamplingSettings(isolate=True, frames=4, spec="uniform")  # exact frames: every one hashed
LIMITS = LimitSettings(decode_timeout_s=20.0)
SPEC = SampleSpec.from_settings(SAMPLING)


@pytest.fixture(scope="module")
def worker() -> Iterator[IsolatedDecoder]:
    decoder = IsolatedDecoder(LIMITS, recycle_after=100)
    yield decoder
    decoder.close()


def test_video_is_hashed_and_sampled_in_one_pass(tmp_path: Path, worker: IsolatedDecoder) -> None:
    clip = make_texture_clip(tmp_path / "clip.mp4", seed=1, frames=48, fps=24)
    out = hash_media(clip, SPEC, SAMPLING, LIMITS, HashRequest(seconds_per_hash=0.5), decoder=worker, trusted_path=True)
    assert isinstance(out.signal, VpdqSignal)
    assert [f.frame for f in out.signal.frames] == list(range(0, 48, frame_mod(0.5, 24)))
    assert out.media.frames_used == 4 and len(out.media.frames) == 4
    assert out.media.frames_decoded == 48  # every frame decoded exactly once, for both
    assert out.content_hash.startswith("sha256:") and all(f.quality >= 50 for f in out.signal.frames)


def test_image_hash_matches_in_process_pdq(tmp_path: Path, worker: IsolatedDecoder) -> None:
    from guardstream.engines.hashing.pdq import pdq_from_rgb

    rgb = texture(4)
    image = write_jpeg(rgb, tmp_path / "a.jpg", quality=95)
    out = hash_media(image, SPEC, SAMPLING, LIMITS, HashRequest(), decoder=worker, trusted_path=True)
    assert isinstance(out.signal, PdqSignal) and out.media.frames_used == 1
    assert hamming(out.signal.hash, pdq_from_rgb(rgb)[0]) <= 8


def test_hash_only_and_cached(tmp_path: Path, worker: IsolatedDecoder) -> None:
    clip = make_texture_clip(tmp_path / "clip.mp4", seed=2, frames=24, fps=24)
    only = hash_media(clip, SPEC, SAMPLING, LIMITS, HashRequest(sample=False), decoder=worker, trusted_path=True)
    assert only.signal is not None and only.media.frames_used == 0

    def plan(digest: str) -> HashRequest:
        return HashRequest(hash=digest != only.content_hash)

    cached = hash_media(clip, SPEC, SAMPLING, LIMITS, HashRequest(), decoder=worker, trusted_path=True, plan=plan)
    assert cached.signal is None and cached.media.frames_used == 4
    skipped = hash_media(clip, SPEC, SAMPLING, LIMITS, HashRequest(), decoder=worker, trusted_path=True,
                         plan=lambda _: None)  # fmt: skip
    assert skipped.signal is None and skipped.media.frames_used == 0 and skipped.content_hash == only.content_hash


@pytest.mark.parametrize("case", ["random", "truncated", "bomb", "type"])
def test_hostile_media_is_refused(tmp_path: Path, worker: IsolatedDecoder, case: str) -> None:
    path = tmp_path / "bad.mp4"
    if case == "random":
        path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
    elif case == "truncated":
        full = make_clip(tmp_path / "full.mp4", frames=50)
        path.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    elif case == "bomb":
        path = tmp_path / "bomb.png"
        path.write_bytes(png_header(100_000, 100_000))
    else:
        path = write_jpeg(texture(1), tmp_path / "photo.mp4")
    with pytest.raises(MediaError) as info:
        hash_media(path, SPEC, SAMPLING, LIMITS, HashRequest(), decoder=worker, trusted_path=True)
    assert info.value.stage in (Stage.PROBE, Stage.DECODE) and info.value.reason


def test_bare_paths_are_refused_from_uploads(tmp_path: Path, worker: IsolatedDecoder) -> None:
    image = write_jpeg(texture(1), tmp_path / "a.jpg")
    with pytest.raises(MediaError) as info:
        hash_media(str(image), SPEC, SAMPLING, LIMITS, HashRequest(), decoder=worker)
    assert info.value.stage == Stage.FETCH
