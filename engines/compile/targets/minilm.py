"""all-MiniLM-L6-v2 as one ONNX graph: encoder + masked mean pooling + L2 normalisation (what Embedder computes)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from guardstream.engines.compile.artifact import InputSpec
from guardstream.engines.compile.target import Feeds, Target

INPUTS = ("input_ids", "attention_mask", "token_type_ids")
SAMPLE_TEXTS = (
    "short",
    "A clip of a cooking show where the host explains how to sharpen a knife safely.",
    "buy followers now " * 40,  # truncated at the token limit
)


def _pooled_module(model: Any) -> Any:
    import torch

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)
            return mean / mean.norm(dim=-1, keepdim=True).clamp(min=1e-9)

    return Pooled().eval()


class MiniLMTarget(Target):
    """The embedder's model and tokenizer (already loaded); reference = the model's own torch forward + pooling."""

    name = "all-minilm-l6-v2"
    revision = "1"

    def __init__(self, model: Any, tokenizer: Any, model_dir: Path, max_tokens: int) -> None:
        self._model = model
        self._tokenizer = tokenizer
        self._dir = model_dir
        self._max_tokens = max_tokens
        self._module: Any = None

    def model_version(self) -> str:
        digest = hashlib.sha256()
        for name in ("config.json", "tokenizer.json"):
            path = self._dir / name
            if path.is_file():
                digest.update(path.read_bytes())
        weights = self._dir / "model.safetensors"
        digest.update(str(weights.stat().st_size).encode())
        with weights.open("rb") as handle:
            digest.update(handle.read(1 << 20))
        return f"sha256:{digest.hexdigest()[:16]}"

    def inputs(self) -> tuple[InputSpec, ...]:
        return tuple(InputSpec(name, "int64", ("batch", "tokens")) for name in INPUTS)

    def outputs(self) -> tuple[str, ...]:
        return ("embedding",)

    def module(self) -> Any:
        if self._module is None:
            self._module = _pooled_module(self._model)
        return self._module

    def axis_max(self, axis: str, settings: Any) -> int:
        return self._max_tokens if axis == "tokens" else super().axis_max(axis, settings)

    def samples(self) -> list[Feeds]:
        batched = self.encode(list(SAMPLE_TEXTS[:2]))  # padded batch: the mask must matter
        return [batched, *(self.encode([text]) for text in SAMPLE_TEXTS)]

    def encode(self, texts: list[str]) -> Feeds:
        batch = self._tokenizer(texts, truncation=True, max_length=self._max_tokens, padding=True, return_tensors="np")
        return {name: np.asarray(batch[name], dtype=np.int64) for name in INPUTS}
