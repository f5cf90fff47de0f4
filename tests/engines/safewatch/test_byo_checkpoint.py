"""Bring your own checkpoint: the guard loads a standard Hugging Face Qwen2.5-VL folder through the same code path
as the project's own checkpoints — here a tiny random one re-laid out as a hub release is (the pre-5.x flat
config.json, sharded safetensors + index, tokenizer and preprocessor files, no project marker). Missing or
mismatched files fail with the file named."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from guardstream.engines.base import Frames, GuardRequest, score_fail_closed
from guardstream.engines.safewatch.families.base import BackboneError
from guardstream.engines.safewatch.guard import SafeWatchGuard
from guardstream.engines.safewatch.make_checkpoint import MARKER
from guardstream.schemas.policy import load_policy_pack

POLICIES = load_policy_pack().policy_set("default").policies[:3]
HF_FILES = {"config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
            "preprocessor_config.json"}  # fmt: skip


def _legacy_config(config: dict[str, object]) -> dict[str, object]:
    """The flat config.json layout Qwen2.5-VL releases on the hub use (text fields at the top, rope_scaling)."""
    out = {k: v for k, v in config.items() if k not in ("text_config", "dtype")}
    text = dict(config["text_config"])  # type: ignore[call-overload]
    rope = text.pop("rope_parameters")
    for key in ("model_type", "layer_types", "dtype"):
        text.pop(key, None)
    out.update(text, rope_theta=rope["rope_theta"], torch_dtype="bfloat16", transformers_version="4.49.0",
               rope_scaling={"type": "mrope", "mrope_section": rope["mrope_section"]})  # fmt: skip
    vision = dict(out["vision_config"])  # type: ignore[call-overload]
    vision.pop("rope_parameters", None)
    vision.pop("model_type", None)
    vision["in_chans"] = vision.pop("in_channels")
    out["vision_config"] = vision
    return out


@pytest.fixture(scope="module")
def hub_folder(tiny_checkpoints: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch
    from transformers import Qwen2_5_VLForConditionalGeneration

    src, dst = tiny_checkpoints["qwen2_5_vl"], tmp_path_factory.mktemp("hub") / "Qwen2.5-VL-tiny"
    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(src, dtype=torch.float32)
    model.save_pretrained(dst, max_shard_size="300KB")
    for name in ("tokenizer.json", "tokenizer_config.json", "preprocessor_config.json"):
        shutil.copy(src / name, dst / name)
    (dst / "config.json").write_text(json.dumps(_legacy_config(json.loads((src / "config.json").read_text()))))
    return dst


def _request() -> GuardRequest:
    rng = np.random.default_rng(3)
    return GuardRequest("u", Frames(rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8), (0, 1, 2, 3), (0, 1, 2, 3)),
                        POLICIES)  # fmt: skip


def _scores(checkpoint: Path) -> list[float]:
    guard = SafeWatchGuard(checkpoint=checkpoint)
    guard.load()
    [result] = score_fail_closed(guard, [_request()])
    assert result.ok, result.error
    return [s.probability for s in result.scores]


def test_project_checkpoints_have_the_hugging_face_layout(tiny_checkpoints: dict[str, Path]) -> None:
    for folder in tiny_checkpoints.values():
        assert {p.name for p in folder.iterdir()} == HF_FILES | {MARKER}
        processor = json.loads((folder / "preprocessor_config.json").read_text())
        assert processor["image_processor_type"] == "Qwen2VLImageProcessor" and processor["merge_size"] == 2


def test_a_hub_layout_folder_loads_and_scores_like_the_original(
    tiny_checkpoints: dict[str, Path], hub_folder: Path
) -> None:
    assert (hub_folder / "model.safetensors.index.json").is_file() and not (hub_folder / "model.safetensors").exists()
    assert len(list(hub_folder.glob("model-*-of-*.safetensors"))) > 1 and not (hub_folder / MARKER).exists()
    assert np.allclose(_scores(hub_folder), _scores(tiny_checkpoints["qwen2_5_vl"]), atol=1e-5)


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (lambda d: (d / "tokenizer.json").unlink(), "no tokenizer.json in checkpoint folder"),
        (lambda d: sorted(d.glob("model-*-of-*.safetensors"))[1].unlink(), "names shards missing from the folder"),
        (lambda d: (d / "preprocessor_config.json").write_text('{"patch_size": 14}'), "patch_size 14 disagrees"),
        (lambda d: [p.unlink() for p in d.glob("model*")], "no weights in"),
    ],
)
def test_a_broken_folder_names_the_file(hub_folder: Path, tmp_path: Path, breakage: object, message: str) -> None:
    broken = shutil.copytree(hub_folder, tmp_path / "broken")
    breakage(broken)  # type: ignore[operator]
    with pytest.raises(BackboneError, match=message):
        SafeWatchGuard(checkpoint=broken).load()


def test_a_tokenizer_from_another_model_is_refused(hub_folder: Path, tmp_path: Path) -> None:
    broken = shutil.copytree(hub_folder, tmp_path / "other-tokenizer")
    config = json.loads((broken / "config.json").read_text())
    config["video_token_id"] = int(config["video_token_id"]) + 1
    (broken / "config.json").write_text(json.dumps(config))
    with pytest.raises(BackboneError, match=r"<\|video_pad\|> is id \d+, but config.json video_token_id"):
        SafeWatchGuard(checkpoint=broken).load()
