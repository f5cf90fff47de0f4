"""Score a manifest through the same guard code as the stream: the guard (or plan) the Serve app would host, built
in this process (`engines.serve.deploy.reference_guard`), items with a `uri` fetched and sampled by
`operators.frames.sample_media` under the stream's limits, requests scored in batches by `score_fail_closed`,
and each item's action taken from `operators.aggregate.build_verdict` — so a failure fails closed (HOLD) here too.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from guardstream.engines.base import Frames, Guard, GuardRequest, GuardResult, TextEvidence, score_fail_closed
from guardstream.pipeline.evaluate.manifest import ManifestItem
from guardstream.pipeline.evaluate.metrics import Scored
from guardstream.pipeline.settings import Settings
from guardstream.schemas.policy import PolicySet

NO_FRAMES = Frames(np.zeros((0, 8, 8, 3), np.uint8), (), ())
TEXT_ONLY_URI = "manifest://text-only"


@dataclass(frozen=True)
class Prediction:
    """One scored item: what `--predictions` writes."""

    id: str
    probabilities: dict[str, float]
    flagged: tuple[str, ...]
    action: str
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "probabilities": self.probabilities, "flagged": list(self.flagged)}
        out["action"] = self.action
        if self.error:
            out["error"] = self.error
        return out


@dataclass
class Evaluation:
    predictions: list[Prediction] = field(default_factory=list)
    elapsed_s: float = 0.0
    guard_name: str = ""
    guard_version: str = ""

    @property
    def failed(self) -> list[Prediction]:
        return [p for p in self.predictions if p.error]


def open_guard(settings: Settings, guard: str | None, plan: str | None, guard_kwargs: dict[str, Any]) -> Guard:
    """The guard (`--guard`) or plan (`--plan`) as the Serve app would build it, loaded."""
    from guardstream.engines.base import create_guard
    from guardstream.engines.serve.deploy import reference_guard

    built: Guard
    if plan is not None:
        built = reference_guard(settings.guards.model_copy(update={"plan": plan}))
    elif guard_kwargs:
        built = create_guard(guard or settings.guards.name, **guard_kwargs)
    else:
        built = reference_guard(
            settings.guards.model_copy(update={"plan": None, "name": guard or settings.guards.name})
        )
    built.load()
    return built


def request_for(item: ManifestItem, policy_set: PolicySet, settings: Settings) -> GuardRequest:
    """The guard request for one item; media refused by the stream's limits raises MediaError."""
    frames = NO_FRAMES
    if item.uri:
        from guardstream.operators.frames import SampleSpec, sample_media

        spec = SampleSpec.from_settings(settings.sampling)
        frames = sample_media(item.uri, spec, settings.sampling, settings.limits).frames
    text = TextEvidence(title=item.title, description=item.description, transcript=item.transcript)
    return GuardRequest(item.id, frames, policy_set.policies, text, policy_set.version)


def action_of(item: ManifestItem, result: GuardResult, policy_set: PolicySet, guard: Guard) -> str:
    """The action the stream's aggregation gives this result (HOLD for any error)."""
    from guardstream.operators.aggregate import build_verdict
    from guardstream.schemas.upload import MediaType, UploadEvent

    event = UploadEvent(upload_id=item.id, tenant="eval", surface="eval", media_uri=item.uri or TEXT_ONLY_URI,
                        media_type=MediaType.IMAGE, created_at=dt.datetime.now(dt.UTC))  # fmt: skip
    verdict = build_verdict(event=event, policy_set=policy_set, guard_name=guard.name,
                            guard_version=str(guard.version), result=result)  # fmt: skip
    return str(verdict.action.value)


def predict_batch(
    guard: Guard, items: Sequence[ManifestItem], policy_set: PolicySet, settings: Settings
) -> list[Prediction]:
    from guardstream.operators.frames import MediaError

    requests: dict[int, GuardRequest] = {}
    results: dict[int, GuardResult] = {}
    for i, item in enumerate(items):
        try:
            requests[i] = request_for(item, policy_set, settings)
        except MediaError as exc:
            results[i] = GuardResult(item.id, error=f"media refused: {exc}")
    order = sorted(requests)
    results.update(zip(order, score_fail_closed(guard, [requests[i] for i in order]), strict=True))
    review = {p.id: p.thresholds.review for p in policy_set.policies}
    out = []
    for i, item in enumerate(items):
        result = results[i]
        probs = {s.policy_id: round(float(s.probability), 6) for s in result.scores} if result.ok else {}
        flagged = tuple(pid for pid, p in probs.items() if p >= review.get(pid, 1.0))
        out.append(Prediction(item.id, probs, flagged, action_of(item, result, policy_set, guard), result.error))
    return out


def batches(items: Sequence[ManifestItem], size: int) -> Iterator[Sequence[ManifestItem]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def evaluate(
    guard: Guard, items: Sequence[ManifestItem], policy_set: PolicySet, settings: Settings, batch_size: int = 0,
    on_batch: Callable[[int], None] | None = None,
) -> Evaluation:  # fmt: skip
    """Score every item in batches of the guard's batch size (or `batch_size`); timing covers scoring only."""
    size = batch_size or guard.batch_limits().max_batch_size
    run = Evaluation(guard_name=guard.name, guard_version=str(guard.version))
    started = time.perf_counter()
    for batch in batches(items, size):
        run.predictions += predict_batch(guard, batch, policy_set, settings)
        if on_batch:
            on_batch(len(batch))
    run.elapsed_s = time.perf_counter() - started
    return run


def scored_items(items: Sequence[ManifestItem], run: Evaluation) -> list[Scored]:
    """Items joined with their predictions, for the metrics (failed items excluded: the caller reports them)."""
    by_id = {p.id: p for p in run.predictions if not p.error}
    return [
        Scored(item.labels, item.tag or ("benign" if not item.labels else "harmful"), by_id[item.id].probabilities,
               frozenset(by_id[item.id].flagged), by_id[item.id].action)
        for item in items if item.id in by_id
    ]  # fmt: skip


def progress_bar(total: int, label: str) -> tuple[Callable[[int], None], Callable[[], None]]:
    """A rich progress bar on a terminal (stderr), nothing otherwise: (advance, close)."""
    if not sys.stderr.isatty():
        return (lambda n: None), (lambda: None)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                   console=Console(stderr=True), transient=True)  # fmt: skip
    task = bar.add_task(label, total=total)
    bar.start()
    return (lambda n: bar.advance(task, n)), bar.stop
