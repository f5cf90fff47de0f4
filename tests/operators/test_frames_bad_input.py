"""Hostile and broken media: each is refused with a clear stage and reason, and the process (and the decode
worker, after a restart) survives."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from guardstream.operators.frames import IsolatedDecoder, MediaError, SampleSpec, sample_media
from guardstream.pipeline.settings import LimitSettings, SamplingSettings
from guardstream.schemas.dead_letter import Stage
from tests.operators.frames_clips import make_clip, png_header

SAMPLING = SamplingSettings(isolate=True, worker_recycle_after=100)
LIMITS = LimitSettings(decode_timeout_s=5.0)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("bad") / "clip.mp4", frames=50, fps=25, gop=25)


@pytest.fixture(scope="module")
def worker() -> Iterator[IsolatedDecoder]:
    decoder = IsolatedDecoder(LIMITS, recycle_after=100)
    yield decoder
    decoder.close()


def refuse(path: Path, worker: IsolatedDecoder, limits: LimitSettings = LIMITS, **kw: object) -> MediaError:
    with pytest.raises(MediaError) as info:
        spec = SampleSpec.from_settings(SAMPLING)
        sample_media(path, spec, SAMPLING, limits, trusted_path=True, decoder=worker, **kw)  # type: ignore[arg-type]
    return info.value


def still_works(worker: IsolatedDecoder, clip: Path) -> None:
    result = sample_media(clip, SampleSpec.from_settings(SAMPLING), SAMPLING, LIMITS, trusted_path=True, decoder=worker)
    assert result.frames_used > 0


def test_zero_byte_file(tmp_path: Path, worker: IsolatedDecoder) -> None:
    (tmp_path / "empty.mp4").write_bytes(b"")
    error = refuse(tmp_path / "empty.mp4", worker)
    assert error.stage == Stage.FETCH and "empty" in error.reason


def test_mp4_truncated_at_half(tmp_path: Path, clip: Path, worker: IsolatedDecoder) -> None:
    data = clip.read_bytes()
    (tmp_path / "half.mp4").write_bytes(data[: len(data) // 2])
    error = refuse(tmp_path / "half.mp4", worker)  # index (moov) at the end: nothing to open
    assert error.stage == Stage.PROBE
    still_works(worker, clip)


def test_faststart_mp4_truncated_at_half(tmp_path: Path, clip: Path, worker: IsolatedDecoder) -> None:
    faststart = tmp_path / "faststart.mp4"
    remux = ["ffmpeg", "-v", "error", "-i", clip, "-c", "copy", "-movflags", "+faststart", faststart]
    subprocess.run(remux, check=True)
    data = faststart.read_bytes()
    (tmp_path / "half.mp4").write_bytes(data[: len(data) // 2])
    error = refuse(tmp_path / "half.mp4", worker)  # index intact, half the frames missing
    assert error.stage == Stage.PROBE and "truncated" in error.reason


def test_random_bytes_named_mp4(tmp_path: Path, worker: IsolatedDecoder) -> None:
    (tmp_path / "noise.mp4").write_bytes(random.Random(7).randbytes(64 * 1024))
    error = refuse(tmp_path / "noise.mp4", worker)
    assert error.stage == Stage.PROBE and "unrecognised container" in error.reason


def test_image_named_mp4(tmp_path: Path, worker: IsolatedDecoder) -> None:
    from PIL import Image

    Image.new("RGB", (64, 64), "red").save(tmp_path / "photo.mp4", format="JPEG")
    error = refuse(tmp_path / "photo.mp4", worker)
    assert error.stage == Stage.PROBE and "content is image" in error.reason


def test_upload_type_must_match_the_content(clip: Path, worker: IsolatedDecoder) -> None:
    error = refuse(clip, worker, expected_type="image")
    assert error.stage == Stage.PROBE and "media is video" in error.reason


def test_header_claiming_100000_by_100000_pixels(tmp_path: Path, worker: IsolatedDecoder) -> None:
    (tmp_path / "bomb.png").write_bytes(png_header(100_000, 100_000))
    error = refuse(tmp_path / "bomb.png", worker)
    assert error.stage == Stage.PROBE and ("pixels" in error.reason or "bomb" in error.reason)


def test_video_pixels_over_the_limit(clip: Path, worker: IsolatedDecoder) -> None:
    limits = LIMITS.model_copy(update={"max_pixels": 320 * 240 - 1})
    error = refuse(clip, IsolatedDecoder(limits, 1), limits)
    assert error.stage == Stage.PROBE and "pixels per frame" in error.reason


def test_duration_over_the_limit(clip: Path) -> None:
    limits = LIMITS.model_copy(update={"max_duration_s": 1.0})
    decoder = IsolatedDecoder(limits, 1)
    try:
        error = refuse(clip, decoder, limits)
    finally:
        decoder.close()
    assert error.stage == Stage.PROBE and "duration" in error.reason


def test_unsupported_codec(tmp_path: Path, worker: IsolatedDecoder) -> None:
    path = tmp_path / "lossless.mkv"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=5:duration=1", "-c:v", "ffv1", path],
        check=True,
    )
    error = refuse(path, worker)
    assert error.stage == Stage.PROBE and "unsupported codec 'ffv1'" in error.reason


@pytest.mark.parametrize("name", ["list.m3u8", "list.mp4"])
def test_hls_playlist_referencing_a_local_file(tmp_path: Path, clip: Path, worker: IsolatedDecoder, name: str) -> None:
    playlist = f"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nfile://{clip}\n#EXTINF:2.0,\nfile:///etc/passwd\n"
    (tmp_path / name).write_text(playlist)
    error = refuse(tmp_path / name, worker)
    assert error.stage == Stage.PROBE and "playlist" in error.reason


def test_fifo_is_not_fetched(tmp_path: Path, worker: IsolatedDecoder) -> None:
    os.mkfifo(tmp_path / "pipe.mp4")
    error = refuse(tmp_path / "pipe.mp4", worker)
    assert error.stage == Stage.FETCH and "regular file" in error.reason


def test_hanging_decoder_is_killed_at_the_time_limit(tmp_path: Path, clip: Path) -> None:
    os.mkfifo(tmp_path / "pipe.mp4")  # opening it for reading blocks forever: a decoder that hangs
    # 3 s, not less: the replacement worker must also start and decode the clip within the same limit on a busy CI core
    decoder = IsolatedDecoder(LIMITS.model_copy(update={"decode_timeout_s": 3.0}), recycle_after=100)
    try:
        with pytest.raises(MediaError) as info:
            decoder.sample(tmp_path / "pipe.mp4", SampleSpec.from_settings(SAMPLING), SAMPLING)
        assert info.value.stage == Stage.DECODE and "time limit" in info.value.reason
        assert decoder.pid is None  # the hung worker is gone
        assert decoder.sample(clip, SampleSpec.from_settings(SAMPLING), SAMPLING).frames_used > 0
        assert decoder.starts == 2
    finally:
        decoder.close()


def test_crashing_decoder_is_reported(tmp_path: Path, clip: Path) -> None:
    os.mkfifo(tmp_path / "pipe.mp4")
    decoder = IsolatedDecoder(LIMITS, recycle_after=100)
    try:
        decoder.sample(clip, SampleSpec.from_settings(SAMPLING), SAMPLING)
        pid = decoder.pid
        assert pid is not None
        threading.Timer(0.5, os.kill, (pid, signal.SIGSEGV)).start()  # a native crash mid-decode
        with pytest.raises(MediaError) as info:
            decoder.sample(tmp_path / "pipe.mp4", SampleSpec.from_settings(SAMPLING), SAMPLING)
        assert info.value.stage == Stage.DECODE and "crashed (signal 11)" in info.value.reason
        assert decoder.sample(clip, SampleSpec.from_settings(SAMPLING), SAMPLING).frames_used > 0
    finally:
        decoder.close()


def test_decoder_over_its_memory_limit_is_killed(clip: Path) -> None:
    decoder = IsolatedDecoder(LIMITS.model_copy(update={"decode_memory_mb": 16}), recycle_after=100)
    try:
        with pytest.raises(MediaError) as info:
            decoder.sample(clip, SampleSpec.from_settings(SAMPLING), SAMPLING)
        assert info.value.stage == Stage.DECODE and "memory limit" in info.value.reason
    finally:
        decoder.close()
