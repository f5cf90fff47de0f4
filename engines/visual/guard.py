"""The visual guard: the three sexual-content experts (nsfwjs MobileNetV2, Yahoo Open-NSFW, image-safety) and the
one graphic-violence expert (image-safety's NSFL class) on ONNX Runtime, scoring c1.explicit, c1.suggestive and
the graphic part of c3.violence from sampled frames. Every other policy is refused, not guessed: no model here
judges minors, weapons, drugs or hate symbols (route those to a guard that has a signal, or a user's checkpoint).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from guardstream.engines.base import BatchLimits, Guard, GuardRequest, GuardResult, PolicyScore
from guardstream.engines.plan.result import FusedScore
from guardstream.engines.visual.catalog import checked_model_file, read_manifest
from guardstream.engines.visual.mapping import SIGNALS, Fusion, default_fusion, expert_signal, load_fusions
from guardstream.engines.visual.runtime import Device, ModelRunner
from guardstream.schemas.policy import Policy
from guardstream.schemas.verdict import Evidence

DEFAULT_MODELS_DIR = Path(".guardstream") / "models"  # settings.stack.home / "models" with the default home
DEFAULT_EXPERTS = ("nsfw", "open-nsfw", "image-safety")
MAX_EVIDENCE_FRAMES = 5


@dataclass(frozen=True)
class ExpertScores:
    """Per-frame signals for one policy: (frames, experts) in the fusion's expert order, and the fused (frames,)."""

    signals: np.ndarray
    fused: np.ndarray


class VisualGuard(Guard):
    """Construct, `load()` once, then `score_batch`. `experts`: catalogue model names; `fusion_path`: fitted
    weights from `mapping.save_fusions` (defaults otherwise)."""

    name: ClassVar[str] = "visual"
    version = "1.0"  # completed in load(): the model files' checksums and the fusion weights

    def __init__(
        self,
        *,
        models_dir: Path | str = DEFAULT_MODELS_DIR,
        experts: Sequence[str] = DEFAULT_EXPERTS,
        device: str = Device.CPU.value,
        threads: int = 1,
        fusion_path: Path | str | None = None,
        max_batch_size: int = 8,
        max_frames_per_request: int = 64,
    ) -> None:
        self.models_dir = Path(models_dir)
        self.experts = tuple(experts)
        self.device = Device(device)
        self.threads = threads
        fitted = load_fusions(Path(fusion_path)) if fusion_path else {}
        self.fusions = {pid: fitted.get(pid) or default_fusion(pid, self.experts) for pid in self._policies()}
        self._limits = BatchLimits(max_batch_size=max_batch_size, max_frames_per_request=max_frames_per_request)
        self.runners: dict[str, ModelRunner] = {}
        for expert in self.experts:  # a missing / corrupt model file fails here, naming the file and the fix
            checked_model_file(self.models_dir, expert)

    def _policies(self) -> tuple[str, ...]:
        return tuple(pid for pid, experts in SIGNALS.items() if any(e in experts for e in self.experts))

    def scored_policies(self) -> tuple[str, ...]:
        """The policies this guard has a real signal for; it refuses every other policy."""
        return tuple(self.fusions)

    @classmethod
    def for_conformance(cls, workdir: Path) -> Guard:
        """The real models (set up in the default models folder if absent: idempotent, checksummed)."""
        from guardstream.engines.visual.provision import setup_models

        setup_models(DEFAULT_MODELS_DIR)
        return cls(models_dir=DEFAULT_MODELS_DIR)

    def load(self) -> None:
        self.runners = {e: ModelRunner.open(self.models_dir, e, self.device, self.threads) for e in self.experts}
        self.version = guard_version(self.models_dir, self.experts, list(self.fusions.values()))

    def batch_limits(self) -> BatchLimits:
        return self._limits

    def warmup(self) -> None:
        for runner in self.runners.values():
            runner.predict(np.zeros((1, 64, 64, 3), np.uint8))

    def check_health(self) -> None:
        if set(self.runners) != set(self.experts):
            raise RuntimeError("visual guard is not loaded")
        for name, runner in self.runners.items():
            probs = runner.predict(np.full((1, 32, 32, 3), 128, np.uint8))
            if not np.allclose(probs.sum(axis=1), 1.0, atol=1e-3):
                raise RuntimeError(f"expert {name} returned probabilities that do not sum to 1")

    def close(self) -> None:
        self.runners = {}

    def score_batch(self, requests: Sequence[GuardRequest]) -> list[GuardResult]:
        refused = {r.request_id: self._refusal(r) for r in requests}
        todo = [r for r in requests if refused[r.request_id] is None]
        started = time.perf_counter()
        probabilities = self._predict_all(todo)
        infer_ms = (time.perf_counter() - started) * 1e3
        results = []
        for request in requests:
            error = refused[request.request_id]
            if error is not None:
                results.append(GuardResult(request.request_id, error=error))
                continue
            scores = tuple(self._score_policy(p, request, probabilities[request.request_id]) for p in request.policies)
            results.append(GuardResult(request.request_id, scores, timings_ms={"infer_ms": infer_ms}))
        return results

    def _refusal(self, request: GuardRequest) -> str | None:
        missing = [p.id for p in request.policies if p.id not in self.fusions]
        if not missing:
            return None
        return (f"visual guard has no signal for {missing}: it scores only {list(self.fusions)} "
                "(no visual model here judges minors, weapons, drugs or hate symbols); route those policies to "
                "another guard")  # fmt: skip

    def _predict_all(self, requests: Sequence[GuardRequest]) -> dict[str, dict[str, np.ndarray]]:
        """Each expert runs once over every frame of the batch; results split back per request."""
        frames = [f for r in requests for f in r.frames.pixels]
        bounds = np.cumsum([0] + [len(r.frames) for r in requests])
        per_expert = {e: runner.predict(frames) for e, runner in self.runners.items()}
        return {r.request_id: {e: p[bounds[i] : bounds[i + 1]] for e, p in per_expert.items()}
                for i, r in enumerate(requests)}  # fmt: skip

    def expert_scores(self, policy_id: str, probabilities: dict[str, np.ndarray]) -> ExpertScores:
        """Per-frame expert signals and fused probability for one policy."""
        fusion = self.fusions[policy_id]
        signals = np.stack([expert_signal(e, policy_id, probabilities[e]) for e in fusion.experts], axis=1)
        return ExpertScores(signals, fusion.fuse(signals))

    def _score_policy(self, policy: Policy, request: GuardRequest, probabilities: dict[str, np.ndarray]) -> PolicyScore:
        if len(request.frames) == 0:
            return PolicyScore(policy.id, 0.0, "no frames: nothing visual to score")
        scores = self.expert_scores(policy.id, probabilities)
        drivers = evidence_frames(scores.fused, policy.thresholds.review)
        top = drivers[0]
        frames = request.frames
        evidence = Evidence(
            timestamps_s=tuple(frames.timestamps_s[i] for i in drivers),
            frame_indices=tuple(frames.indices[i] for i in drivers),
        )
        fusion = self.fusions[policy.id]
        explanation = describe(fusion, scores.signals[top], float(scores.fused[top]), frames.timestamps_s[top],
                               frames.indices[top])  # fmt: skip
        parts = expert_parts(fusion, scores.signals)
        return FusedScore(policy.id, float(scores.fused[top]), explanation, evidence, parts)


def expert_parts(fusion: Fusion, signals: np.ndarray) -> tuple[tuple[str, float], ...]:
    """Each expert's own score (its max over frames), named `visual.<model>`: kept in the verdict's guard_scores."""
    return tuple((f"visual.{e}", float(signals[:, k].max())) for k, e in enumerate(fusion.experts))


def evidence_frames(fused: np.ndarray, review_threshold: float) -> list[int]:
    """Positions of the frames that drove the score: those at or above the review threshold, highest first (at
    most MAX_EVIDENCE_FRAMES); when none reaches it, the single highest frame."""
    order = [int(i) for i in np.argsort(-fused, kind="stable")]
    above = [i for i in order if fused[i] >= review_threshold][:MAX_EVIDENCE_FRAMES]
    return above or order[:1]


def describe(fusion: Fusion, signals: np.ndarray, fused: float, timestamp_s: float, index: int) -> str:
    """One line: each expert's signal at the worst frame and the fused probability."""
    parts = ", ".join(f"{e} {s:.3f}" for e, s in zip(fusion.experts, signals, strict=True))
    return f"visual experts at {timestamp_s:.2f} s (frame {index}): {parts}; fused {fused:.3f}"


def guard_version(models_dir: Path, experts: Sequence[str], fusions: Sequence[Fusion]) -> str:
    """`1.0+<digest>` of the experts' model checksums and the fusion weights (part of the idempotency key)."""
    entries = read_manifest(models_dir)["models"]
    identity = [[e, entries[e]["sha256"]] for e in experts] + [[f.policy_id, f.weights, f.bias] for f in fusions]
    return "1.0+" + hashlib.sha256(json.dumps(identity).encode()).hexdigest()[:12]
