"""Frames: fetch media safely, probe it, choose frames (uniform, fps, keyframe-snapped, scene) and decode them
with PyAV, decord or torchcodec — in an isolated worker with time and memory limits — resized for the guard."""

from operators.frames.api import sample_media, shared_decoder, uses_worker
from operators.frames.errors import MediaError
from operators.frames.fetch import LocalMedia, fetch_media
from operators.frames.result import SampledMedia
from operators.frames.spec import SampleSpec, SpecKind
from operators.frames.worker import IsolatedDecoder

__all__ = [
    "IsolatedDecoder",
    "LocalMedia",
    "MediaError",
    "SampleSpec",
    "SampledMedia",
    "SpecKind",
    "fetch_media",
    "sample_media",
    "shared_decoder",
    "uses_worker",
]
