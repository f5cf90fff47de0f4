"""`hash_media`: fetch (the stream's limits and refusals), then hash — and sample, unless told not to — in one
pass of the contained decoder worker. Returns the media, its signal (parsed and validated here, in the trusted
parent) and the content's sha256."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from guardstream.engines.hashing import Signal, signal_type
from guardstream.engines.hashing.base import SignalError
from guardstream.operators.frames.api import shared_decoder
from guardstream.operators.frames.errors import MediaError
from guardstream.operators.frames.fetch import LocalMedia, fetch_media
from guardstream.operators.frames.hashing import HashRequest, content_sha256
from guardstream.operators.frames.result import SampledMedia
from guardstream.operators.frames.settings import LimitSettings, SamplingSettings
from guardstream.operators.frames.spec import SampleSpec
from guardstream.operators.frames.worker import IsolatedDecoder
from guardstream.schemas.dead_letter import Stage


@dataclass(frozen=True)
class HashedMedia:
    media: SampledMedia
    signal: Signal | None  # None when the cache already knew it (only sampled then)
    content_hash: str


def hash_media(
    source: str | Path, spec: SampleSpec, sampling: SamplingSettings, limits: LimitSettings, request: HashRequest,
    *, decoder: IsolatedDecoder | None = None, trusted_path: bool = False, expected_type: str | None = None,
    plan: Callable[[str], HashRequest | None] | None = None,
) -> HashedMedia:  # fmt: skip
    """Hash (and sample) `source`. `plan(content_hash)` may change the request once the content's sha256 is
    known (a cached signal: `HashRequest(hash=False)` only samples; None decodes nothing). MediaError for
    every refusal."""
    worker = decoder or shared_decoder(limits, sampling)
    with fetch_media(source, limits, trusted_path=trusted_path) as fetched:
        digest = content_sha256(fetched.path)
        media = _decode(worker, fetched, spec, sampling, plan(digest) if plan is not None else request)
    if expected_type is not None and media is not None and media.media_type != expected_type:
        raise MediaError(Stage.PROBE, f"upload says {expected_type} but the media is {media.media_type}")
    if media is None:
        return HashedMedia(_empty(sampling), None, digest)
    return HashedMedia(media, parse_signal(media), digest)


def _decode(
    worker: IsolatedDecoder, fetched: LocalMedia, spec: SampleSpec, sampling: SamplingSettings,
    request: HashRequest | None,
) -> SampledMedia | None:  # fmt: skip
    if request is None or not (request.hash or request.sample):
        return None
    return worker.sample(fetched.path, spec, sampling, request if request.hash else None)


def parse_signal(media: SampledMedia) -> Signal | None:
    """The worker's signal, re-parsed by its signal type (the child handled hostile bytes)."""
    if media.signal is None:
        return None
    try:
        return signal_type(media.signal["algorithm"]).parse(media.signal["text"])
    except (SignalError, ValueError) as exc:
        raise MediaError(Stage.DECODE, f"decoder returned an unusable hash: {exc}") from None


def _empty(sampling: SamplingSettings) -> SampledMedia:
    import numpy as np

    from guardstream.engines.base import Frames

    pixels = np.zeros((0, sampling.frame_size, sampling.frame_size, 3), dtype=np.uint8)
    return SampledMedia(Frames(pixels, (), ()), "unknown", 0, 0, 0.0, spec="cached")
