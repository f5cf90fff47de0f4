"""Frames: fetch media safely, probe it, choose frames (uniform, fps, keyframe-snapped, scene) and decode them
with PyAV, decord or torchcodec — in an isolated worker with time and memory limits — resized for the guard."""

from guardstream.operators.frames.api import sample_media, shared_decoder, uses_worker
from guardstream.operators.frames.errors import MediaError
from guardstream.operators.frames.fetch import LocalMedia, fetch_media
from guardstream.operators.frames.result import SampledMedia
from guardstream.operators.frames.samplers import SAMPLERS, FrameSampler, get_sampler
from guardstream.operators.frames.spec import SampleSpec
from guardstream.operators.frames.worker import IsolatedDecoder

__all__ = [
    "SAMPLERS",
    "FrameSampler",
    "IsolatedDecoder",
    "LocalMedia",
    "MediaError",
    "SampleSpec",
    "SampledMedia",
    "fetch_media",
    "get_sampler",
    "sample_media",
    "shared_decoder",
    "uses_worker",
]
