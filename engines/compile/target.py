"""What can be compiled: a torch module with a fixed input spec, sample inputs and a torch reference."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from guardstream.engines.compile.artifact import InputSpec

Feeds = dict[str, np.ndarray]


class Target(ABC):
    """One exportable part of a guard. Required: identity, spec, module, samples; `reference` defaults to the module.

    `reference` should be the guard's own torch path where one exists (not the export wrapper), so verification
    checks the exported graph against what the guard computes without it.
    """

    name: str
    revision: str = "1"  # bump when the export wrapper changes the graph it produces

    @abstractmethod
    def model_version(self) -> str:
        """Identity of the weights (changes when the checkpoint changes)."""

    @abstractmethod
    def inputs(self) -> tuple[InputSpec, ...]:
        """Graph inputs, in the module's positional order."""

    @abstractmethod
    def outputs(self) -> tuple[str, ...]:
        """Graph output names."""

    @abstractmethod
    def module(self) -> Any:
        """The torch module to export (eval mode; called once per export)."""

    @abstractmethod
    def samples(self) -> list[Feeds]:
        """Inputs for export (the first) and verification (all); cover the dynamic axes' range."""

    def axis_max(self, axis: str, settings: Any) -> int:
        """Largest size of a dynamic axis a TensorRT profile must cover (default: the settings' max batch)."""
        return int(settings.tensorrt_max_batch)

    def reference(self, feeds: Feeds) -> list[np.ndarray]:
        """Outputs of the torch path on `feeds`."""
        import torch

        module = self.module()
        with torch.inference_mode():
            out = module(*(torch.from_numpy(feeds[spec.name]) for spec in self.inputs()))
        outs = out if isinstance(out, tuple | list) else (out,)
        return [o.detach().numpy() for o in outs]
