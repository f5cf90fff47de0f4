"""`sample_media`: fetch, then sample in the isolated worker (or in this process when isolation is off and the
backend allows it). One structlog line per upload with the counts; never the media URI."""

from __future__ import annotations

import atexit
import time
from pathlib import Path

import structlog

from guardstream.operators.frames.backends import BACKENDS
from guardstream.operators.frames.errors import MediaError
from guardstream.operators.frames.fetch import fetch_media
from guardstream.operators.frames.local import sample_local
from guardstream.operators.frames.result import SampledMedia
from guardstream.operators.frames.settings import LimitSettings, SamplingSettings
from guardstream.operators.frames.spec import SampleSpec
from guardstream.operators.frames.worker import IsolatedDecoder
from guardstream.schemas.dead_letter import Stage

log = structlog.get_logger(__name__)
_SHARED: dict[tuple[LimitSettings, int, str], IsolatedDecoder] = {}


def sample_media(
    source: str | Path,
    spec: SampleSpec,
    sampling: SamplingSettings,
    limits: LimitSettings,
    *,
    trusted_path: bool = False,
    decoder: IsolatedDecoder | None = None,
    expected_type: str | None = None,
) -> SampledMedia:
    """Fetch `source` and return its frames chosen by `spec`. Raises MediaError (FETCH/PROBE/DECODE) for
    every refusal. `decoder`: the worker to use (default: one shared per process and settings);
    `expected_type`: "video"/"image" from the upload event — a mismatch is refused."""
    started = time.monotonic()
    with fetch_media(source, limits, trusted_path=trusted_path) as media:
        if uses_worker(sampling):
            worker = decoder or shared_decoder(limits, sampling)
            result = worker.sample(media.path, spec, sampling)
        else:
            result = sample_local(media.path, spec, sampling, limits)
    if expected_type is not None and result.media_type != expected_type:
        raise MediaError(Stage.PROBE, f"upload says {expected_type} but the media is {result.media_type}")
    log.info(
        "media_sampled",
        media_type=result.media_type,
        backend=result.backend,
        spec=result.spec,
        frames_decoded=result.frames_decoded,
        frames_used=result.frames_used,
        decode_ms=round(result.decode_s * 1000, 1),
        total_ms=round((time.monotonic() - started) * 1000, 1),
    )
    return result


def uses_worker(sampling: SamplingSettings) -> bool:
    """Isolation is on by setting, and always for backends known to crash or hang on hostile files."""
    return sampling.isolate or BACKENDS[sampling.backend].needs_isolation


def shared_decoder(limits: LimitSettings, sampling: SamplingSettings) -> IsolatedDecoder:
    """One worker per (limits, recycle count, backend) in this process, stopped at exit."""
    key = (limits, sampling.worker_recycle_after, sampling.backend)
    if key not in _SHARED:
        _SHARED[key] = IsolatedDecoder(limits, sampling.worker_recycle_after, backends=(sampling.backend,))
    return _SHARED[key]


@atexit.register
def _close_shared() -> None:
    for decoder in _SHARED.values():
        decoder.close()
