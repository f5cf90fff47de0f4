"""Fused kernels of the SafeWatch guard. `fused_pap` holds PAP at the pruning layer (Triton, with its torch
reference); `use_fused_pap` decides, per call, whether the kernel runs."""

from __future__ import annotations

import importlib.util

import torch

from guardstream.engines.compile.settings import KernelMode


def triton_installed() -> bool:
    return importlib.util.find_spec("triton") is not None


def triton_interpreting() -> bool:
    """Triton's CPU interpreter is on (TRITON_INTERPRET=1 when Triton was imported)."""
    if not triton_installed():
        return False
    from triton import knobs

    return bool(knobs.runtime.interpret)


def use_fused_pap(mode: KernelMode, device: torch.device) -> bool:
    """AUTO: the kernel on CUDA tensors when Triton is installed. TRITON: also on CPU tensors, through Triton's
    interpreter (tests). TORCH: never. Where the kernel cannot run, the torch path is used."""
    if mode is KernelMode.TORCH or not triton_installed():
        return False
    if device.type == "cuda":
        return True
    return mode is KernelMode.TRITON and triton_interpreting()
