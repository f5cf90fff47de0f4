"""Small entry points guards call to get their compiled parts (each returns None → keep the torch path)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from guardstream.engines.compile.loader import load_engine
from guardstream.engines.compile.settings import CompileSettings


def embedder_runtime(
    model: Any, tokenizer: Any, model_dir: Path, max_tokens: int, settings: CompileSettings | None, threads: int
) -> Callable[[str], np.ndarray] | None:
    """text → (384,) float32 unit vector on ONNX Runtime, or None when the compiled MiniLM is unavailable."""
    from guardstream.engines.compile.targets.minilm import MiniLMTarget

    settings = settings or CompileSettings(intra_op_threads=threads)
    target = MiniLMTarget(model, tokenizer, model_dir, max_tokens)
    engine = load_engine(target, settings)
    if engine is None:
        return None

    def embed(text: str) -> np.ndarray:
        vector: np.ndarray = engine.run(target.encode([text]))[0][0]
        return vector.astype(np.float32)

    return embed


class VideoEncoder:
    """backbone.encode_video on ONNX Runtime, one exported tower per frame grid (built on first use of a grid);
    a grid whose engine cannot be had stays on torch (remembered, so it is not retried every upload)."""

    def __init__(self, backbone: Any, settings: CompileSettings) -> None:
        self.backbone = backbone
        self.settings = settings
        self._engines: dict[tuple[int, int], Any] = {}

    def runtime(self, grid_hw: tuple[int, int]) -> str:
        return "onnxruntime" if self._engines.get(grid_hw) is not None else "torch"

    def __call__(self, patches: Any, grid_thw: tuple[int, int, int]) -> Any:
        import torch

        grid_hw = (grid_thw[1], grid_thw[2])
        if grid_hw not in self._engines:
            from guardstream.engines.compile.targets.qwen_vision import QwenVisionTarget

            self._engines[grid_hw] = load_engine(QwenVisionTarget(self.backbone, grid_hw), self.settings)
        engine = self._engines[grid_hw]
        if engine is None:
            return self.backbone.encode_video(patches, grid_thw)
        sliced = patches.reshape(grid_thw[0], grid_hw[0] * grid_hw[1], -1).numpy()
        return torch.from_numpy(engine.run({"patches": np.ascontiguousarray(sliced, dtype=np.float32)})[0])


def video_encoder(backbone: Any, settings: CompileSettings | None) -> VideoEncoder | None:
    """The compiled vision tower of a backbone, or None (log line) when its family or the settings rule it out."""
    import structlog

    from guardstream.engines.compile.settings import Runtime
    from guardstream.engines.compile.targets.qwen_vision import SUPPORTED_FAMILIES

    settings = settings or CompileSettings()
    log = structlog.get_logger(__name__)
    if settings.runtime is Runtime.TORCH:
        log.info("compiled_engine_off", target="vision", reason="runtime=torch")
        return None
    if backbone.family not in SUPPORTED_FAMILIES:
        log.info("compiled_engine_unavailable", target="vision", family=backbone.family, fallback="torch")
        return None
    return VideoEncoder(backbone, settings)
