"""SafeWatchGuard: the SafeWatch-style policy-following video guard behind the common Guard interface."""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import structlog

from guardstream.engines.base import BatchLimits, Frames, Guard, GuardRequest, GuardResult, PolicyScore
from guardstream.engines.compile.settings import CompileSettings
from guardstream.engines.safewatch.config import Mode, SafeWatchConfig
from guardstream.schemas.verdict import Evidence

log = structlog.get_logger(__name__)


class SafeWatchGuard(Guard):
    """Scores every policy of an upload in one prefill; explains only policies past their review threshold."""

    name: ClassVar[str] = "safewatch"
    version = "1"

    def __init__(
        self,
        config: SafeWatchConfig | None = None,
        *,
        checkpoint: str | Path | None = None,
        settings: Any = None,
        compile_settings: Any = None,
        **overrides: Any,
    ) -> None:
        base = config or SafeWatchConfig()
        # engines.compile section (model or dict); None → its defaults: vision tower on ONNX Runtime when it builds
        self.compile_settings = CompileSettings.model_validate(compile_settings) if compile_settings else None
        if checkpoint is None and settings is not None:
            checkpoint = getattr(settings, "checkpoint", None)
        if checkpoint is not None:
            overrides["checkpoint"] = Path(checkpoint)
        self.config = base.model_copy(update=overrides) if overrides else base
        SafeWatchConfig.model_validate(self.config.model_dump())  # overrides are validated, not trusted
        self.engine: Any = None

    def load(self) -> None:
        import torch

        from guardstream.engines.safewatch.engine import SafeWatchEngine
        from guardstream.engines.safewatch.families import load_backbone

        if self.config.checkpoint is None:
            raise ValueError(
                "safewatch guard needs a checkpoint folder (GUARDSTREAM_GUARDS__CHECKPOINT); "
                "make one with `python -m guardstream.engines.safewatch.make_checkpoint --size tiny --out DIR`"
            )
        if self.config.torch_threads:
            torch.set_num_threads(self.config.torch_threads)
        backbone = load_backbone(self.config.checkpoint, self.config.model_version)
        self.engine = SafeWatchEngine(backbone, self.config, self.compile_settings)
        # Verdicts are keyed on the guard version: it names the weights and every setting that changes scores.
        settings = self.config.model_dump(mode="json", exclude={"checkpoint", "torch_threads"})
        digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:8]
        self.version = f"1+{backbone.model_version}.{digest}"

    @classmethod
    def for_conformance(cls, workdir: Path) -> Guard:
        """A tiny random checkpoint under `workdir` (the project's own generator), PAP on from layer 1."""
        from guardstream.engines.safewatch.make_checkpoint import make_checkpoint

        checkpoint = make_checkpoint(workdir / "tiny", "tiny")
        return cls(checkpoint=checkpoint, pap_keep_ratio=0.5, pap_layer=1, explain_max_new_tokens=4)

    @property
    def model_version(self) -> str:
        return str(self.engine.backbone.model_version) if self.engine else ""

    def batch_limits(self) -> BatchLimits:
        return BatchLimits(max_batch_size=8, max_frames_per_request=64, max_policies_per_request=64)

    def warmup(self) -> None:
        import numpy as np

        from guardstream.schemas.policy import load_policy_pack

        policies = load_policy_pack().policy_sets[0].policies[:2]
        frames = Frames(np.full((2, 56, 56, 3), 128, np.uint8), (0.0, 1.0), (0, 1))
        self.score_batch([GuardRequest("warmup", frames, policies)])

    def check_health(self) -> None:
        if self.engine is None:
            raise RuntimeError("safewatch guard is not loaded")

    def close(self) -> None:
        self.engine = None

    def score_batch(self, requests: Sequence[GuardRequest]) -> list[GuardResult]:
        if self.engine is None:
            raise RuntimeError("safewatch guard is not loaded")
        if self.config.mode is Mode.GENERATE_EVERYTHING:
            return self._baseline(requests)
        return self._one_prefill(requests)

    def _one_prefill(self, requests: Sequence[GuardRequest]) -> list[GuardResult]:
        started = time.perf_counter()
        scored = [self.engine.score(r) for r in requests]
        scored_ms = (time.perf_counter() - started) * 1e3
        flagged = [
            (s, i)
            for s in scored
            for i, p in enumerate(s.request.policies)
            if float(s.probabilities[i]) >= p.thresholds.review
        ]
        texts, _ = self.engine.explain(flagged)
        explanations = {(id(s), i): t for (s, i), t in zip(flagged, texts, strict=True)}
        explain_ms = (time.perf_counter() - started) * 1e3 - scored_ms
        log.info(
            "safewatch_batch",
            uploads=len(requests),
            flagged=len(flagged),
            score_ms=round(scored_ms, 1),
            explain_ms=round(explain_ms, 1),
        )
        return [self._result(s, explanations, scored_ms / len(requests), explain_ms / len(requests)) for s in scored]

    def _result(
        self, scored: Any, explanations: dict[tuple[int, int], str], score_ms: float, explain_ms: float
    ) -> GuardResult:
        scores = []
        for i, policy in enumerate(scored.request.policies):
            explanation = explanations.get((id(scored), i))
            evidence = evidence_for(scored, i, self.config.evidence_max_frames) if explanation else Evidence()
            scores.append(PolicyScore(policy.id, float(scored.probabilities[i]), explanation, evidence))
        return GuardResult(
            scored.request.request_id, tuple(scores), timings_ms={"score_ms": score_ms, "explain_ms": explain_ms}
        )

    def _baseline(self, requests: Sequence[GuardRequest]) -> list[GuardResult]:
        texts, _, _, _ = self.engine.generate_everything(list(requests), self.config.baseline_max_new_tokens)
        return [baseline_result(r, t) for r, t in zip(requests, texts, strict=True)]


def evidence_for(scored: Any, policy_index: int, max_frames: int) -> Evidence:
    """Frames whose visual tokens survived in this policy's own top-k (all frames when nothing was pruned),
    strongest first by the policy's relevance mass, then listed in time order."""
    video, selection, relevance = scored.video, scored.selection, scored.out.relevance
    if video is None or selection is None or relevance is None:
        return Evidence()
    mass: dict[int, float] = {}
    for token in selection.per_policy[policy_index].nonzero().flatten().tolist():
        for frame in video.token_frames[token]:
            mass[frame] = mass.get(frame, 0.0) + float(relevance[policy_index, token])
    top = sorted(sorted(mass, key=lambda f: -mass[f])[:max_frames])
    frames = scored.request.frames
    return Evidence(
        timestamps_s=tuple(frames.timestamps_s[f] for f in top), frame_indices=tuple(frames.indices[f] for f in top)
    )


_JSON = re.compile(r"\{[^{}]*\}")


def parse_baseline(text: str) -> tuple[str, dict[str, bool] | None, str]:
    """SafeWatch-style output → (description, guardrail labels or None when unparseable, explanations)."""
    match = _JSON.search(text)
    if match is None:
        return text.strip(), None, ""
    try:
        raw = json.loads(match.group(0))
    except json.JSONDecodeError:
        return text.strip(), None, ""
    labels = {str(k): bool(v) for k, v in raw.items() if isinstance(v, bool)} if isinstance(raw, dict) else None
    return text[: match.start()].strip(), labels, text[match.end() :].strip()


def baseline_result(request: GuardRequest, text: str) -> GuardResult:
    """Labels from the generated JSON; output that names no label for a policy fails closed (error result)."""
    description, labels, explanations = parse_baseline(text)
    if labels is None or any(p.id not in labels for p in request.policies):
        return GuardResult(
            request.request_id, error="generate-everything output has no guardrail JSON for every policy"
        )
    scores = tuple(
        PolicyScore(p.id, 1.0 if labels[p.id] else 0.0, (explanations or description)[:2000] if labels[p.id] else None)
        for p in request.policies
    )
    return GuardResult(request.request_id, scores)
