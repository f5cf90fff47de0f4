"""The guard-engine interface: load once, score a batch of requests. Every guard implements this and passes
the shared conformance suite (tests/engines/conformance.py). Imports nothing from Beam."""

from __future__ import annotations

import importlib
import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from guardstream.schemas.policy import Policy
from guardstream.schemas.verdict import Evidence


class GuardInputError(ValueError):
    """A request the guard refuses (too big, empty, non-finite…); the caller gets a clear error result."""


@dataclass(frozen=True)
class Frames:
    """Sampled frames of one upload: uint8 pixels (N, H, W, 3) with each frame's timestamp and index."""

    pixels: np.ndarray
    timestamps_s: tuple[float, ...]
    indices: tuple[int, ...]

    def __post_init__(self) -> None:
        n = len(self.pixels)
        if len(self.timestamps_s) != n or len(self.indices) != n:
            raise GuardInputError("frames: pixels, timestamps_s and indices must have the same length")

    def __len__(self) -> int:
        return len(self.pixels)


@dataclass(frozen=True)
class TextEvidence:
    """Untrusted text that arrived with the upload."""

    title: str = ""
    description: str = ""
    transcript: str = ""


@dataclass(frozen=True)
class GuardRequest:
    request_id: str
    frames: Frames
    policies: tuple[Policy, ...]
    text: TextEvidence = TextEvidence()
    policy_set_version: str = ""


@dataclass(frozen=True)
class PolicyScore:
    policy_id: str
    probability: float
    explanation: str | None = None
    evidence: Evidence = Evidence()


@dataclass(frozen=True)
class GuardResult:
    """Scores for exactly the request's policies, in request order; or an error (the caller fails closed)."""

    request_id: str
    scores: tuple[PolicyScore, ...] = ()
    error: str | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class BatchLimits:
    max_batch_size: int = 8
    max_frames_per_request: int = 64
    max_bytes_per_request: int = 64 * 1024 * 1024
    max_policies_per_request: int = 64


class Guard(ABC):
    """A safety guard. Required: `load` and `score_batch`; everything else has a safe default."""

    name: ClassVar[str]
    # What produced the scores (code, weights, calibration, scoring settings), final once `load()` returns: a
    # guard whose identity depends on what it loaded sets it in `load()`. It is part of every verdict's
    # idempotency key, so every entry point reads it from a loaded guard (the Serve app's `describe`).
    version: str = "0"

    @abstractmethod
    def load(self) -> None:
        """Load weights and build runtimes; called once per process before any scoring."""

    @abstractmethod
    def score_batch(self, requests: Sequence[GuardRequest]) -> list[GuardResult]:
        """Score every request against its policies; one result per request, in order."""

    def batch_limits(self) -> BatchLimits:
        return BatchLimits()

    def warmup(self) -> None:
        """Run representative inputs once so the first real request is not slow."""

    def check_health(self) -> None:
        """Raise if the guard cannot serve."""

    def close(self) -> None:
        """Release runtimes and memory."""

    def scored_policies(self) -> tuple[str, ...] | None:
        """The policy ids this guard has a signal for (asked for any other, it answers an error result, so the
        caller fails closed); None: it scores any policy."""
        return None

    @classmethod
    def for_conformance(cls, workdir: Path) -> Guard:
        """A small instance for the shared conformance suite (not loaded). Guards that need a checkpoint or
        model files override this to build small ones under `workdir`."""
        return cls()


def validate_request(request: GuardRequest, limits: BatchLimits) -> None:
    """Raise GuardInputError with a precise reason when a request is outside the guard's limits."""
    frames = request.frames
    if not request.policies:
        raise GuardInputError("request names no policies")
    if len(request.policies) > limits.max_policies_per_request:
        raise GuardInputError(f"{len(request.policies)} policies > limit {limits.max_policies_per_request}")
    if len(frames) == 0 and not (request.text.title or request.text.description or request.text.transcript):
        raise GuardInputError("empty frame list and no text: nothing to score")
    if len(frames) > limits.max_frames_per_request:
        raise GuardInputError(f"{len(frames)} frames > limit {limits.max_frames_per_request}")
    if frames.pixels.nbytes > limits.max_bytes_per_request:
        raise GuardInputError(f"{frames.pixels.nbytes} frame bytes > limit {limits.max_bytes_per_request}")
    if len(frames) and (frames.pixels.dtype != np.uint8 or frames.pixels.ndim != 4 or frames.pixels.shape[-1] != 3):
        raise GuardInputError("frames.pixels must be uint8 with shape (N, H, W, 3)")
    if any(not math.isfinite(t) or t < 0 for t in frames.timestamps_s):
        raise GuardInputError("frame timestamps must be finite and >= 0")


def score_fail_closed(guard: Guard, requests: Sequence[GuardRequest]) -> list[GuardResult]:
    """Validate, score, and turn any failure into per-request error results — never a silent allow.

    A bad request fails alone; if the batch call raises, each request is retried alone so one poison
    request cannot fail its neighbours.
    """
    limits = guard.batch_limits()
    results: dict[int, GuardResult] = {}
    valid: list[int] = []
    for i, request in enumerate(requests):
        try:
            validate_request(request, limits)
            valid.append(i)
        except GuardInputError as exc:
            results[i] = GuardResult(request.request_id, error=f"invalid request: {exc}")
    try:
        scored = _checked(guard.score_batch([requests[i] for i in valid]), [requests[i] for i in valid])
        results.update(zip(valid, scored, strict=True))
    except Exception:
        for i in valid:
            results[i] = _score_one(guard, requests[i])
    return [results[i] for i in range(len(requests))]


def _score_one(guard: Guard, request: GuardRequest) -> GuardResult:
    try:
        return _checked(guard.score_batch([request]), [request])[0]
    except Exception as exc:
        return GuardResult(request.request_id, error=f"guard {guard.name} failed: {type(exc).__name__}: {exc}")


def _checked(results: list[GuardResult], requests: Sequence[GuardRequest]) -> list[GuardResult]:
    """Enforce the output contract: one result per request, same ids, exactly the policies asked, finite p."""
    if len(results) != len(requests):
        raise RuntimeError(f"guard returned {len(results)} results for {len(requests)} requests")
    for result, request in zip(results, requests, strict=True):
        if result.request_id != request.request_id:
            raise RuntimeError("guard results are out of request order")
        if result.ok:
            got = [s.policy_id for s in result.scores]
            if got != [p.id for p in request.policies]:
                raise RuntimeError(f"guard scored policies {got}, asked {[p.id for p in request.policies]}")
            if any(not (0.0 <= s.probability <= 1.0) for s in result.scores):
                raise RuntimeError("guard produced a probability outside [0, 1] or NaN")
    return results


GUARD_ENTRY_POINTS = "guardstream.guards"


def registered_guards() -> dict[str, str]:
    """Registry name → "module:Class": the manifest (engines/manifest.py) plus the `guardstream.guards` entry
    points of installed distributions (a name in both is an error: one name, one guard)."""
    from importlib.metadata import entry_points

    from guardstream.engines.manifest import GUARDS

    guards = dict(GUARDS)
    for ep in entry_points(group=GUARD_ENTRY_POINTS):
        if ep.name in guards and guards[ep.name] != ep.value:
            raise ValueError(f"guard {ep.name!r} is registered twice: {guards[ep.name]} and {ep.value}")
        guards[ep.name] = ep.value
    return guards


def guard_class(name: str) -> type[Guard]:
    """The class registered under `name` (imported now); ValueError naming the known guards otherwise."""
    guards = registered_guards()
    if name not in guards:
        raise ValueError(f"unknown guard {name!r}; registered: {sorted(guards)}")
    module_name, _, cls_name = guards[name].partition(":")
    guard_cls = getattr(importlib.import_module(module_name), cls_name)
    if not (isinstance(guard_cls, type) and issubclass(guard_cls, Guard)):
        raise TypeError(f"guard {name!r} ({guards[name]}) is not a Guard subclass")
    return guard_cls


def create_guard(name: str, **kwargs: Any) -> Guard:
    """Instantiate a registered guard by name (not loaded yet: call `load()`)."""
    return guard_class(name)(**kwargs)
