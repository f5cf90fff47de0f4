"""The SafeWatch guard's vision tower on ONNX Runtime: same embeddings as the torch path, dynamic frame count,
per-grid engines, and torch where the family is not exportable."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
import torch

from guardstream.engines.base import Frames, GuardRequest
from guardstream.engines.compile.hooks import VideoEncoder, video_encoder
from guardstream.engines.compile.settings import CompileSettings, Runtime
from guardstream.engines.compile.targets.qwen_vision import QwenVisionTarget
from guardstream.engines.safewatch.config import SafeWatchConfig
from guardstream.engines.safewatch.engine import SafeWatchEngine
from guardstream.engines.safewatch.families import load_backbone
from guardstream.engines.safewatch.make_checkpoint import make_checkpoint
from guardstream.engines.safewatch.patchify import prepare_video
from guardstream.schemas.policy import load_policy_pack

TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def backbones(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("vision")
    return {f: load_backbone(make_checkpoint(root / f, "tiny", f)) for f in ("qwen2_5_vl", "qwen2_vl")}


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> CompileSettings:
    return CompileSettings(models_dir=tmp_path_factory.mktemp("models"))


def _frames(n: int, height: int, width: int, seed: int = 0) -> Frames:
    pixels = np.random.default_rng(seed).integers(0, 256, (n, height, width, 3), dtype=np.uint8)
    return Frames(pixels, tuple(0.5 * i for i in range(n)), tuple(range(n)))


def test_tower_matches_torch_for_any_frame_count(backbones: dict[str, Any], settings: CompileSettings) -> None:
    backbone = backbones["qwen2_5_vl"]
    encoder = video_encoder(backbone, settings)
    assert isinstance(encoder, VideoEncoder)
    for n_frames in (1, 6, 7):  # 1, 3 and 4 temporal slices through one engine (odd count pads the last frame)
        frames = _frames(n_frames, 40, 72)  # a 10 x 18 patch grid: the last window column is partial
        video = prepare_video(frames.pixels, frames.timestamps_s, backbone.vision, 448)
        got = encoder(video.patches, video.grid_thw)
        want = backbone.encode_video(video.patches, video.grid_thw)
        assert got.shape == want.shape
        assert float((got - want).abs().max()) <= TOLERANCE
    assert encoder.runtime((10, 18)) == "onnxruntime"
    [manifest] = (settings.models_dir / "onnx").glob("*.json")  # one file per grid, whatever the frame count
    assert json.loads(manifest.read_text())["max_abs_error"] <= TOLERANCE  # verified against backbone.encode_video


def test_engine_scores_match_torch_runtime(backbones: dict[str, Any], settings: CompileSettings) -> None:
    backbone = backbones["qwen2_5_vl"]
    config = SafeWatchConfig(pap_keep_ratio=0.5, pap_layer=1)
    compiled = SafeWatchEngine(backbone, config, settings)
    eager = SafeWatchEngine(backbone, config, settings.model_copy(update={"runtime": Runtime.TORCH}))
    assert isinstance(compiled.encode_video, VideoEncoder)
    request = GuardRequest("u1", _frames(4, 40, 72), load_policy_pack().policy_sets[0].policies[:3])
    got, want = compiled.score(request), eager.score(request)
    assert float((got.probabilities - want.probabilities).abs().max()) <= TOLERANCE
    assert torch.equal(got.out.visual_keep, want.out.visual_keep)


def test_unsupported_family_stays_on_torch(backbones: dict[str, Any], settings: CompileSettings) -> None:
    assert video_encoder(backbones["qwen2_vl"], settings) is None
    assert video_encoder(backbones["qwen2_5_vl"], settings.model_copy(update={"runtime": Runtime.TORCH})) is None
    with pytest.raises(ValueError, match="vision export supports"):
        QwenVisionTarget(backbones["qwen2_vl"], (8, 8))
