"""Pipeline metrics for on-call operators, exported through Ray's metrics agent (Prometheus names get a `ray_`
prefix, e.g. `ray_guardstream_stage_outcomes_total`) whenever the job runs as a Ray driver — it does, since
`InferVerdicts` joins the cluster. Outside Ray (unit tests, an in-process run) recording is skipped.

Labels are bounded vocabularies only — stage, sink, error class, action, policy id, topic, partition — never an
upload id, a title, OCR text or a media URI (cardinality and privacy; `tests/operators/test_metrics.py` checks
every metric's tag keys against `ALLOWED_TAG_KEYS`)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import apache_beam as beam

from guardstream.operators.envelope import Outcome

ALLOWED_TAG_KEYS = frozenset({"stage", "sink", "error_class", "action", "policy", "status", "topic", "partition"})
LATENCY_BOUNDARIES_MS: list[float] = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000]

# name → (kind, description, tag keys)
DEFINITIONS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "guardstream_stage_outcomes": ("counter", "Uploads decided, by the stage that decided them.", ("stage", "status")),
    "guardstream_dead_letters": ("counter", "Dead letters by stage and error class.", ("stage", "error_class")),
    "guardstream_verdict_actions": ("counter", "Verdicts by upload action.", ("action",)),
    "guardstream_policy_decisions": ("counter", "Per-policy flags on committed verdicts.", ("policy", "action")),
    "guardstream_sink_write_latency_ms": ("histogram", "Time to write one bundle durably (ms).", ("sink",)),
    "guardstream_sink_outcomes": ("counter", "Outcomes written durably, per sink.", ("sink",)),
    "guardstream_consumer_lag": (
        "gauge",
        "High watermark minus the next offset, per partition.",
        ("topic", "partition"),
    ),
}

_lock = threading.Lock()
_metrics: dict[str, Any] = {}


def _metric(name: str) -> Any | None:
    """The Ray metric `name`, created on first use; None when this process is not a Ray driver or worker."""
    try:
        import ray
    except ImportError:  # pragma: no cover - ray is a dependency
        return None
    if not ray.is_initialized():
        return None
    with _lock:
        if name not in _metrics:
            from ray.util.metrics import Counter, Gauge, Histogram

            kind, description, tags = DEFINITIONS[name]
            if kind == "counter":
                _metrics[name] = Counter(name, description=description, tag_keys=tags)
            elif kind == "gauge":
                _metrics[name] = Gauge(name, description=description, tag_keys=tags)
            else:
                _metrics[name] = Histogram(
                    name, description=description, boundaries=LATENCY_BOUNDARIES_MS, tag_keys=tags
                )
        return _metrics[name]


def inc(name: str, value: float = 1.0, **tags: str) -> None:
    metric = _metric(name)
    if metric is not None:
        metric.inc(value, tags=tags)


def observe(name: str, value: float, **tags: str) -> None:
    metric = _metric(name)
    if metric is not None:
        metric.observe(value, tags=tags)


def set_gauge(name: str, value: float, **tags: str) -> None:
    metric = _metric(name)
    if metric is not None:
        metric.set(value, tags=tags)


def record_outcome(outcome: Outcome) -> None:
    """Count one durable outcome: its deciding stage, dead-letter reason, action and flagged policies."""
    if outcome.dead_letter is not None:
        letter = outcome.dead_letter
        inc("guardstream_stage_outcomes", stage=letter.stage.value, status="dead_letter")
        inc("guardstream_dead_letters", stage=letter.stage.value, error_class=letter.error_class[:64])
        return
    verdict = outcome.verdict
    assert verdict is not None
    inc("guardstream_stage_outcomes", stage="infer", status=verdict.status.value)
    inc("guardstream_verdict_actions", action=verdict.action.value)
    for result in verdict.results:
        if result.violated:
            inc("guardstream_policy_decisions", policy=result.policy_id, action=verdict.action.value)


class _RecordFn(beam.DoFn):
    def process(self, outcome: Outcome) -> Iterator[Outcome]:
        record_outcome(outcome)
        yield outcome


class RecordOutcomes(beam.PTransform[beam.PCollection[Outcome], beam.PCollection[Outcome]]):
    """Count durable outcomes for the dashboards, passing each one on unchanged."""

    # Any, not the element type: Beam reads expand's annotations as runtime type hints (checks and coders).
    def expand(self, outcomes: beam.PCollection[Any]) -> beam.PCollection[Any]:
        # _RecordFn() runs Beam's unannotated DoFn.__init__ (untyped_calls_exclude does not reach inherited ones).
        recorded: beam.PCollection[Any] = outcomes | beam.ParDo(_RecordFn())  # type: ignore[no-untyped-call]
        return recorded
