"""InferVerdicts: guard inference through Beam's RunInference + a RemoteModelHandler that calls the Ray Serve
guard app, then verdict aggregation. Retries and client-side throttling are RemoteModelHandler's; a batch that
still fails (or times out) becomes HOLD verdicts — fail closed, never allow, never lost.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, cast

import apache_beam as beam
from apache_beam.ml.inference.base import PredictionResult, RemoteModelHandler, RunInference

from guardstream.engines.base import GuardRequest, GuardResult, TextEvidence
from guardstream.operators.aggregate import build_verdict
from guardstream.operators.envelope import Envelope, Outcome
from guardstream.operators.frames import SampledMedia
from guardstream.schemas.dead_letter import Stage
from guardstream.schemas.policy import PolicyPack
from guardstream.schemas.verdict import Latency


@dataclass(frozen=True)
class ServeTarget:
    """Where the guard app runs: Ray address, auth env for token auth, and the Serve app name."""

    ray_address: str
    app_name: str
    guard_name: str
    guard_version: str
    auth_env: tuple[tuple[str, str], ...] = ()
    request_timeout_s: float = 60.0
    max_batch_size: int = 8


@dataclass(frozen=True)
class InferenceInput:
    envelope: Envelope
    request: GuardRequest
    decode_ms: float


def guard_request(envelope: Envelope, sampled: SampledMedia, pack: PolicyPack) -> GuardRequest:
    """The request for one upload: its sampled frames, its policy set's policies, its untrusted text."""
    event = envelope.event
    assert event is not None and envelope.policy_set_id is not None
    policy_set = pack.policy_set(envelope.policy_set_id)
    return GuardRequest(
        request_id=event.upload_id,
        frames=sampled.frames,
        policies=policy_set.policies,
        text=TextEvidence(title=event.title, description=event.description, transcript=event.transcript),
        policy_set_version=policy_set.version,
    )


class GuardServeHandler(RemoteModelHandler[InferenceInput, PredictionResult, Any]):
    """RemoteModelHandler for the Ray Serve guard app (calls by deployment handle, never unpickles HTTP)."""

    def __init__(self, target: ServeTarget, num_retries: int = 3, throttle_delay_secs: int = 1) -> None:
        super().__init__(
            namespace="guardstream.infer", num_retries=num_retries, throttle_delay_secs=throttle_delay_secs
        )
        self.target = target

    def create_client(self) -> Any:
        from ray import serve

        from guardstream.engines.serve.deploy import connect_ray

        connect_ray(self.target.ray_address, dict(self.target.auth_env))
        return serve.get_app_handle(self.target.app_name)

    def request(
        self, batch: Sequence[InferenceInput], model: Any, inference_args: dict[str, Any] | None = None
    ) -> Iterable[PredictionResult]:
        requests = [item.request for item in batch]
        results: list[GuardResult] = model.score.remote(requests).result(timeout_s=self.target.request_timeout_s)
        if [r.request_id for r in results] != [r.request_id for r in requests]:
            raise RuntimeError(f"guard app answered {len(results)} results out of order for {len(requests)} requests")
        return [PredictionResult(item, result) for item, result in zip(batch, results, strict=True)]

    def batch_elements_kwargs(self) -> dict[str, int]:
        return {"min_batch_size": 1, "max_batch_size": self.target.max_batch_size}


FAILED = "failed"


class _PrepareFn(beam.DoFn):
    def __init__(self, pack: PolicyPack) -> None:
        self.pack = pack

    def process(self, element: tuple[Envelope, SampledMedia]) -> Iterator[Any]:
        envelope, sampled = element
        try:
            request = guard_request(envelope, sampled, self.pack)
        except Exception as exc:  # e.g. a request the guard contract refuses: never crash the job
            yield beam.pvalue.TaggedOutput(FAILED, Outcome.failed(envelope.dead_letter(Stage.INFER, exc), envelope))
            return
        yield InferenceInput(envelope, request, sampled.decode_s * 1000)


def _latency(item: InferenceInput, infer_ms: float | None) -> Latency:
    waited_ms = (time.time() - item.envelope.received_at.timestamp()) * 1000
    return Latency(decode_ms=item.decode_ms, infer_ms=infer_ms, total_ms=max(waited_ms, 0.0))


class _OutcomeFn(beam.DoFn):
    """Shared by the verdict DoFns: one Outcome with a Verdict for one upload."""

    def __init__(self, pack: PolicyPack, target: ServeTarget) -> None:
        self.pack, self.target = pack, target

    def _outcome(
        self, item: InferenceInput, result: GuardResult | None, error: str | None, ms: float | None
    ) -> Outcome:
        event = item.envelope.event
        assert event is not None and item.envelope.policy_set_id is not None
        verdict = build_verdict(
            event=event,
            policy_set=self.pack.policy_set(item.envelope.policy_set_id),
            guard_name=self.target.guard_name,
            guard_version=self.target.guard_version,
            result=result,
            error=error,
            latency=_latency(item, ms),
        )
        if item.envelope.shadow:
            verdict = verdict.model_copy(update={"shadow": True})
        return Outcome(envelope=item.envelope, verdict=verdict)


class _VerdictFn(_OutcomeFn):
    def process(self, prediction: PredictionResult) -> Iterator[Outcome]:
        # PredictionResult's fields are typed with TypeVars Beam never binds; GuardServeHandler pairs them.
        item = cast(InferenceInput, prediction.example)
        result = cast(GuardResult, prediction.inference)
        yield self._outcome(item, result, None, result.timings_ms.get("total_ms"))


class _FailedBatchFn(_OutcomeFn):
    """A batch whose inference failed after retries: every upload in it gets a HOLD verdict."""

    def process(self, failed: tuple[Sequence[InferenceInput], Any]) -> Iterator[Outcome]:
        batch, error = failed
        yield from (self._outcome(item, None, failure_reason(error), None) for item in batch)


def failure_reason(error: Any) -> str:
    """One line for a failed batch. RunInference reports (exception type, repr(exception), traceback lines); the
    traceback stays out of verdicts."""
    if isinstance(error, BaseException):
        detail = f"{type(error).__name__}({str(error)!r})"
    elif isinstance(error, tuple) and len(error) > 1:
        detail = str(error[1])
    else:
        detail = str(error)
    return f"guard inference failed after retries: {detail[:300]}"


class Inferred(NamedTuple):
    verdicts: beam.PCollection[Outcome]  # from guard results
    held: beam.PCollection[Outcome]  # HOLD verdicts for batches whose inference failed
    failed: beam.PCollection[Outcome]  # dead letters: uploads no guard request could be built for


class InferVerdicts(beam.PTransform[beam.PCollection[tuple[Envelope, SampledMedia]], Inferred]):
    """(Envelope, SampledMedia) → Outcome with a Verdict; guard failures become HOLD verdicts.

    The outputs stay separate PCollections: a Flatten would break fusion on FnApiRunner and hold every
    verdict until the unbounded source ends."""

    def __init__(self, pack: PolicyPack, target: ServeTarget, handler: GuardServeHandler | None = None) -> None:
        super().__init__()
        self.pack, self.target = pack, target
        self.handler = handler or GuardServeHandler(target)

    # Any, not the element type: Beam reads expand's annotations as runtime type hints (checks and coders).
    def expand(self, sampled: beam.PCollection[Any]) -> Inferred:
        prepared = sampled | "Prepare" >> beam.ParDo(_PrepareFn(self.pack)).with_outputs(FAILED, main="inputs")
        main, other = prepared.inputs | "Guard" >> RunInference(self.handler).with_exception_handling()
        ok = main | "Verdicts" >> beam.ParDo(_VerdictFn(self.pack, self.target))
        held = other.failed_inferences | "HoldFailed" >> beam.ParDo(_FailedBatchFn(self.pack, self.target))
        return Inferred(verdicts=ok, held=held, failed=prepared[FAILED])
