"""The visual guard end to end with the models' real outputs: the shared benign media comes out allowed, frames the
models score above the thresholds drive a C1 / C3 verdict with those frames as evidence, each expert's part is in
the verdict, and policies without a visual signal are refused (fail closed), never guessed. No sexual or violent
imagery is used: synthetic frames, the fidelity inputs and the shared benign media only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from guardstream.engines.base import Frames, GuardRequest, score_fail_closed
from guardstream.engines.visual.guard import VisualGuard
from guardstream.engines.visual.mapping import expert_signal, fit_fusion, save_fusions
from guardstream.engines.visual.runtime import ModelRunner
from guardstream.operators.aggregate import build_verdict
from guardstream.schemas.policy import PolicySet, load_policy_pack
from guardstream.schemas.verdict import Action
from tests.conftest import SHARED_MEDIA, make_event
from tests.engines.visual.conftest import benign_frames

VISUAL = ("c1.explicit", "c1.suggestive", "c3.violence")
EXPERTS = ("nsfw", "open-nsfw", "image-safety")


@pytest.fixture(scope="module")
def visual_set() -> PolicySet:
    """The default set narrowed to the policies the visual guard scores (other guards score the rest)."""
    full = load_policy_pack().policy_set("default")
    return full.model_copy(update={"policies": tuple(full.policy(p) for p in VISUAL)})


@pytest.fixture(scope="module")
def guard(models_dir: Path) -> VisualGuard:
    guard = VisualGuard(models_dir=models_dir)
    guard.load()
    return guard


def _verdict(guard: VisualGuard, policy_set: PolicySet, frames: Frames, upload: int = 0):  # type: ignore[no-untyped-def]
    request = GuardRequest(f"up-{upload:05d}", frames, policy_set.policies, policy_set_version=policy_set.version)
    result = score_fail_closed(guard, [request])[0]
    return build_verdict(event=make_event(upload), policy_set=policy_set, guard_name=guard.name,
                         guard_version=guard.version, result=result)  # fmt: skip


@pytest.mark.media
@pytest.mark.slow  # 14 files x 8 frames x 3 models: ~15 s on an idle machine, minutes on a busy one
def test_shared_benign_media_is_allowed(guard: VisualGuard, visual_set: PolicySet) -> None:
    from guardstream.operators.frames import SampleSpec, sample_media
    from guardstream.pipeline.settings import Settings

    if not SHARED_MEDIA.is_dir():
        pytest.skip(f"shared media not found at {SHARED_MEDIA}")
    settings = Settings.defaults()
    sampling = settings.sampling.model_copy(update={"isolate": False})
    files = sorted((SHARED_MEDIA / "pdq").glob("*.jpg")) + sorted((SHARED_MEDIA / "video").glob("*.mp4"))
    assert len(files) >= 10
    for i, path in enumerate(files):
        media = sample_media(path, SampleSpec.from_settings(sampling), sampling, settings.limits, trusted_path=True)
        verdict = _verdict(guard, visual_set, media.frames, i)
        assert verdict.action is Action.ALLOW, (path.name, [(r.policy_id, r.probability) for r in verdict.results])
        assert {g.guard for r in verdict.results for g in r.guard_scores} <= {f"visual.{e}" for e in EXPERTS}


def _mixed_clip() -> tuple[Frames, list[int]]:
    """Eight frames 0.5 s apart: colour fields, with noise frames (the ones labelled 'violating') at 2 and 5."""
    frames = benign_frames(8, seed=5)
    noise = np.random.default_rng(9).integers(0, 256, (2, 224, 224, 3), dtype=np.uint8)
    frames[2], frames[5] = noise
    return Frames(frames, tuple(0.5 * i for i in range(8)), tuple(15 * i for i in range(8))), [2, 5]


def test_frames_scored_above_threshold_drive_the_verdict(
    models_dir: Path, visual_set: PolicySet, tmp_path: Path
) -> None:
    """A user's labelled set (here: noise frames violate, colour fields do not) refits the fusion on the experts'
    real outputs; the clip's noise frames then carry c1.explicit and c3.violence, with their timestamps."""
    rng = np.random.default_rng(2)
    train = np.concatenate([benign_frames(6, seed=3), rng.integers(0, 256, (6, 224, 224, 3), dtype=np.uint8)])
    labels = np.array([0] * 6 + [1] * 6)
    probs = {e: ModelRunner.open(models_dir, e).predict(train) for e in EXPERTS}
    fusions = []
    for pid, experts in (("c1.explicit", EXPERTS), ("c3.violence", ("image-safety",))):
        scores = np.stack([expert_signal(e, pid, probs[e]) for e in experts], axis=1)
        fusions.append(fit_fusion(pid, experts, scores, labels))
    save_fusions(fusions, tmp_path / "fusion.json")
    guard = VisualGuard(models_dir=models_dir, fusion_path=tmp_path / "fusion.json")
    guard.load()
    clip, flagged = _mixed_clip()
    verdict = _verdict(guard, visual_set, clip)
    by_id = {r.policy_id: r for r in verdict.results}
    for pid in ("c1.explicit", "c3.violence"):
        result = by_id[pid]
        assert result.violated, (pid, result.probability)
        assert set(result.evidence.frame_indices) <= {15 * i for i in flagged} and result.evidence.frame_indices
        assert set(result.evidence.timestamps_s) <= {0.5 * i for i in flagged}
        assert result.explanation and "fused" in result.explanation
    assert verdict.action in (Action.BLOCK, Action.AGE_RESTRICT, Action.REVIEW)
    assert [g.guard for g in by_id["c1.explicit"].guard_scores] == [f"visual.{e}" for e in EXPERTS]
    assert [g.guard for g in by_id["c3.violence"].guard_scores] == ["visual.image-safety"]
    benign = Frames(benign_frames(4, seed=5), (0.0, 1.0, 2.0, 3.0), (0, 1, 2, 3))
    assert _verdict(guard, visual_set, benign, 1).action is Action.ALLOW


def test_policies_without_a_visual_signal_are_refused(guard: VisualGuard) -> None:
    default = load_policy_pack().policy_set("default")
    frames = Frames(benign_frames(1), (0.0,), (0,))
    asked = (default.policy("c1.explicit"), default.policy("c1.minors"))
    result = score_fail_closed(guard, [GuardRequest("r", frames, asked)])[0]
    assert not result.ok and "c1.minors" in (result.error or "") and "no signal" in (result.error or "")
    assert guard.scored_policies() == VISUAL


def test_text_only_upload_has_nothing_visual(guard: VisualGuard, visual_set: PolicySet) -> None:
    from guardstream.engines.base import TextEvidence

    empty = Frames(np.zeros((0, 8, 8, 3), np.uint8), (), ())
    request = GuardRequest("t", empty, visual_set.policies, TextEvidence(title="a cooking show"))
    result = score_fail_closed(guard, [request])[0]
    assert result.ok and all(s.probability == 0.0 for s in result.scores)


@pytest.mark.slow
def test_frame_the_model_scores_as_explicit_blocks_with_default_settings(
    models_dir: Path, visual_set: PolicySet
) -> None:
    """An abstract synthetic pattern optimised (gradient ascent through our torch MobileNetV2 on the same
    weights) until the real nsfwjs model scores it P(Porn) ≥ 0.99: with the default mapping and the pack's
    thresholds, the nsfwjs-only guard blocks the clip on c1.explicit and names that frame."""
    import torch

    from guardstream.engines.visual.catalog import MODELS
    from guardstream.engines.visual.keras_torch import build_torch_model
    from guardstream.engines.visual.provision import tarball_path, unpack
    from guardstream.engines.visual.tfjs import read_tfjs_model

    tfjs = read_tfjs_model(
        unpack(tarball_path(models_dir), models_dir / "cache" / "nsfwjs-4.4.0") / MODELS["nsfw"].package_file
    )
    net = build_torch_model(tfjs.topology, tfjs.weights)
    latent = torch.zeros(1, 3, 28, 28, requires_grad=True)
    optimiser = torch.optim.Adam([latent], lr=0.2)
    for _ in range(40):
        image = torch.sigmoid(torch.nn.functional.interpolate(latent, size=224, mode="bilinear", align_corners=True))
        p_porn = net(image.permute(0, 2, 3, 1))[0, 3]
        if p_porn > 0.995:
            break
        optimiser.zero_grad()
        (-torch.log(p_porn)).backward()
        optimiser.step()
    pattern = (image.detach().permute(0, 2, 3, 1).numpy()[0] * 255).round().astype(np.uint8)
    frames = benign_frames(4, seed=8)
    frames[1] = pattern
    guard = VisualGuard(models_dir=models_dir, experts=("nsfw",))
    guard.load()
    sexual = visual_set.model_copy(update={"policies": visual_set.policies[:2]})  # nsfwjs has no c3 signal
    verdict = _verdict(guard, sexual, Frames(frames, (0.0, 1.0, 2.0, 3.0), (0, 30, 60, 90)))
    explicit = next(r for r in verdict.results if r.policy_id == "c1.explicit")
    assert explicit.probability >= visual_set.policy("c1.explicit").thresholds.auto_action
    assert explicit.evidence.frame_indices == (30,) and verdict.action is Action.BLOCK
