"""`PapPlan.fused` for the runner: PAP at the pruning layer from that layer's queries and keys via the fused kernel.

The runner then skips the eager probability capture at that layer. If the kernel fails (Triton cannot compile for
this device, a driver error), the torch reference runs on the same queries and keys, with one warning per engine:
the guard keeps serving, and results stay those of the torch path.
"""

from __future__ import annotations

from typing import ClassVar

import structlog
import torch

from guardstream.engines.safewatch.kernels.fused_pap import PapInputs, Pruned, fused_prune, reference_prune
from guardstream.engines.safewatch.layers import decoder_parts

log = structlog.get_logger(__name__)


def source_queries(
    layer: torch.nn.Module, h_in: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, rows: torch.Tensor
) -> torch.Tensor:
    """(heads, len(rows), head_dim) post-RoPE queries of `rows`, exactly as the layer's attention computes them."""
    parts, attn = decoder_parts(layer)
    x = parts.input_layernorm(h_in[:, rows])
    q: torch.Tensor = attn.q_proj(x).view(1, len(rows), -1, attn.head_dim).transpose(1, 2)
    c, s = cos[:, rows].unsqueeze(1), sin[:, rows].unsqueeze(1)
    half = q.shape[-1] // 2
    rotated = torch.cat((-q[..., half:], q[..., :half]), dim=-1)
    return (q * c + rotated * s)[0]


class FusedPap:
    """Called by `layers.prefill` at the PAP layer with that layer's state; returns (relevance, visual keep mask,
    pruned hidden states (1, T', D), kept-row mask over the layer's rows)."""

    kernel_runs: ClassVar[int] = 0  # process-wide count of prunes the kernel answered (not the fallback)

    def __init__(self, keep_ratio: float, visual: torch.Tensor, sources: list[torch.Tensor]) -> None:
        self.keep_ratio = keep_ratio
        self.visual = visual
        self.rows = torch.cat(sources) if sources else torch.zeros(0, dtype=torch.long)
        self.offsets = torch.tensor([0, *torch.tensor([len(s) for s in sources]).cumsum(0).tolist()])
        self.failed: str | None = None

    def __call__(
        self,
        *,
        layer: torch.nn.Module,
        h_in: torch.Tensor,
        h_out: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        k: torch.Tensor,
        q_seg: torch.Tensor,
        q_order: torch.Tensor,
        k_seg: torch.Tensor,
        k_order: torch.Tensor,
        visible: torch.Tensor,
        key_offset: int,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        inputs = PapInputs(
            q=source_queries(layer, h_in, cos, sin, self.rows),
            k=k[0],
            src_seg=q_seg[self.rows],
            src_order=q_order[self.rows],
            key_seg=k_seg,
            key_order=k_order,
            visible=visible,
            offsets=self.offsets,
            visual_cols=self.visual + key_offset,
            scale=float(decoder_parts(layer)[1].scaling),
        )
        pruned = self._prune(inputs, h_out[0])
        return pruned.relevance, pruned.keep, pruned.hidden.unsqueeze(0), pruned.keep_rows

    def _prune(self, inputs: PapInputs, hidden: torch.Tensor) -> Pruned:
        if self.failed is None:
            try:
                pruned = fused_prune(inputs, self.keep_ratio, hidden, self.visual.to(hidden.device))
                FusedPap.kernel_runs += 1
                return pruned
            except Exception as exc:  # the kernel must never take the replica down: torch answers instead
                self.failed = f"{type(exc).__name__}: {exc}"[:500]
                log.warning("pap_kernel_failed", fallback="torch", error=self.failed)
        return reference_prune(inputs, self.keep_ratio, hidden, self.visual.to(hidden.device))
