"""SampleFrames: fetch each upload's media and decode the frames chosen by the sampling spec.

PCollection[Envelope] → SampledFrames(frames: PCollection[tuple[Envelope, SampledMedia]], failed:
PCollection[DeadLetter]). Undecodable or refused media leaves through `failed` with the stage and reason; the
algorithm lives in `operators.frames`, this module is only the Beam glue (one isolated worker per DoFn).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

import apache_beam as beam
from apache_beam.metrics import Metrics

from guardstream.operators.envelope import Envelope
from guardstream.operators.frames import (
    IsolatedDecoder,
    MediaError,
    SampledMedia,
    SampleSpec,
    sample_media,
    uses_worker,
)
from guardstream.operators.frames.settings import LimitSettings, SamplingSettings
from guardstream.schemas.dead_letter import DeadLetter, Stage

FAILED = "failed"
NAMESPACE = "guardstream.frames"


class SampledFrames(NamedTuple):
    frames: beam.PCollection[tuple[Envelope, SampledMedia]]
    failed: beam.PCollection[DeadLetter]


class _SampleDoFn(beam.DoFn):
    def __init__(self, sampling: SamplingSettings, limits: LimitSettings, spec: SampleSpec) -> None:
        self.sampling, self.limits, self.spec = sampling, limits, spec
        self.decoder: IsolatedDecoder | None = None
        self.decoded = Metrics.counter(NAMESPACE, "frames_decoded")
        self.used = Metrics.counter(NAMESPACE, "frames_used")
        self.decode_ms = Metrics.distribution(NAMESPACE, "decode_ms")
        self.refused = Metrics.counter(NAMESPACE, "media_refused")

    def setup(self) -> None:
        if uses_worker(self.sampling):
            backends = (self.sampling.backend,)
            self.decoder = IsolatedDecoder(self.limits, self.sampling.worker_recycle_after, backends=backends)

    def process(self, envelope: Envelope) -> Iterator[Any]:
        if envelope.event is None:
            yield beam.pvalue.TaggedOutput(FAILED, envelope.dead_letter(Stage.FETCH, "no parsed upload event"))
            return
        try:
            sampled = self._sample(envelope)
        except MediaError as exc:
            self.refused.inc()
            letter = envelope.dead_letter(exc.stage, exc.reason, "MediaError", tries=exc.tries)
            yield beam.pvalue.TaggedOutput(FAILED, letter)
            return
        except Exception as exc:  # never drop an upload: an unexpected error is a dead letter too
            yield beam.pvalue.TaggedOutput(FAILED, envelope.dead_letter(Stage.DECODE, exc))
            return
        self.decoded.inc(sampled.frames_decoded)
        self.used.inc(sampled.frames_used)
        self.decode_ms.update(int(sampled.decode_s * 1000))
        yield envelope, sampled

    def _sample(self, envelope: Envelope) -> SampledMedia:
        event = envelope.event
        assert event is not None
        return sample_media(
            event.media_uri, self.spec, self.sampling, self.limits,
            decoder=self.decoder, expected_type=event.media_type.value,
        )  # fmt: skip

    def teardown(self) -> None:
        if self.decoder is not None:
            self.decoder.close()


class SampleFrames(beam.PTransform[beam.PCollection[Envelope], SampledFrames]):
    """Decode each upload's media and emit the frames chosen by `spec`; refused media goes to `failed`."""

    def __init__(self, sampling: SamplingSettings, limits: LimitSettings, spec: SampleSpec | None = None) -> None:
        super().__init__()
        self.sampling, self.limits = sampling, limits
        self.spec = spec or SampleSpec.from_settings(sampling)

    # Any, not the element type: Beam reads expand's annotations as runtime type hints (checks and coders).
    def expand(self, uploads: beam.PCollection[Any]) -> SampledFrames:
        results = uploads | "Sample" >> beam.ParDo(_SampleDoFn(self.sampling, self.limits, self.spec)).with_outputs(
            FAILED, main="frames"
        )
        return SampledFrames(frames=results.frames, failed=results[FAILED])


__all__ = ["DeadLetter", "SampleFrames", "SampledFrames"]
