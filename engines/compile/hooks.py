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
