"""Synthetic PAP inputs with the runner's segment structure, for the kernel's tests and benchmark."""

from __future__ import annotations

import torch

from guardstream.engines.safewatch.kernels.fused_pap import PapInputs


def synthetic_inputs(
    policies: int, visual: int, *, heads: int = 4, kv_heads: int = 2, head_dim: int = 16, per_policy: int = 5,
    prefix: int = 7, duplicates: int = 0, seed: int = 0, device: torch.device | None = None,
) -> tuple[PapInputs, torch.Tensor, torch.Tensor]:  # fmt: skip
    """Paper layout: segment 0 = prefix, 1 = video (sees 0), 2.. = policy chunks (see 0, 1, causal in themselves);
    the chunks' tokens are the sources. `duplicates` visual tokens repeat the first one's key exactly, so their
    relevance ties exactly. Returns (inputs, hidden states of every token, rows of the visual tokens)."""
    device = device or torch.device("cpu")
    g = torch.Generator().manual_seed(seed)
    visible = torch.zeros(2 + policies, 2 + policies, dtype=torch.bool)
    visible[1:, 0] = True
    visible[2:, 1] = True
    chunk_seg = torch.arange(policies).repeat_interleave(per_policy) + 2
    key_seg = torch.cat([torch.zeros(prefix), torch.ones(visual), chunk_seg]).long()
    n_keys = len(key_seg)
    k = torch.randn(kv_heads, n_keys, head_dim, generator=g)
    k[:, prefix + 1 : prefix + 1 + duplicates] = k[:, prefix : prefix + 1]
    src = torch.arange(prefix + visual, n_keys)
    inputs = PapInputs(
        q=(2 * torch.randn(heads, len(src), head_dim, generator=g)).to(device),
        k=k.to(device),
        src_seg=key_seg[src],
        src_order=src,
        key_seg=key_seg,
        key_order=torch.arange(n_keys),
        visible=visible,
        offsets=torch.arange(policies + 1) * per_policy,
        visual_cols=torch.arange(prefix, prefix + visual),
        scale=head_dim**-0.5,
    )
    hidden = torch.randn(n_keys, 24, generator=g).to(device)
    return inputs, hidden, inputs.visual_cols.to(device)
