"""Fused PAP kernel vs the torch reference on the same inputs: same relevance (fp tolerance), same kept set with
ties ordered as the reference orders them, same gathered rows. On CPU the kernels run in Triton's interpreter
(slow: the default run keeps to a few small shapes; the wide sweep is `slow`)."""

from __future__ import annotations

import os
from typing import Any

import torch

if not torch.cuda.is_available():  # before Triton is first imported: interpret the kernels on CPU tensors
    os.environ.setdefault("TRITON_INTERPRET", "1")

import pytest

from guardstream.engines.compile.settings import KernelMode
from guardstream.engines.safewatch import pap
from guardstream.engines.safewatch.kernels import triton_installed, triton_interpreting, use_fused_pap
from guardstream.engines.safewatch.kernels.fused_pap import (
    PapInputs,
    Pruned,
    Tiles,
    fused_prune,
    reference_prune,
    shared_k,
)
from guardstream.engines.safewatch.kernels.synthetic import synthetic_inputs

DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")
pytestmark = [
    pytest.mark.skipif(not triton_installed(), reason="triton is not installed (dev / gpu extra)"),
    pytest.mark.skipif(
        triton_installed() and DEVICE.type == "cpu" and not triton_interpreting(),
        reason="Triton was imported before TRITON_INTERPRET=1 was set in this process: run this file on its own",
    ),
]
RELEVANCE_TOLERANCE = 1e-6  # relevance rows sum to 1; fp32 summation-order noise is ~1e-8


def make_inputs(policies: int, visual: int, **kwargs: Any) -> tuple[PapInputs, torch.Tensor, torch.Tensor]:
    return synthetic_inputs(policies, visual, device=DEVICE, **kwargs)


def assert_same(got: Pruned, want: Pruned) -> None:
    assert float((got.relevance - want.relevance.to(got.relevance.device)).abs().max()) <= RELEVANCE_TOLERANCE
    assert got.k == want.k
    assert torch.equal(got.keep.cpu(), want.keep.cpu())
    assert torch.equal(got.per_policy.cpu(), want.per_policy.cpu())
    assert torch.equal(got.hidden, want.hidden)  # a gather copies rows bit for bit


@pytest.mark.parametrize(
    ("policies", "visual", "heads", "kv_heads", "ratio", "duplicates"),
    [
        (1, 64, 4, 2, 0.25, 0),  # smallest: one policy
        (3, 77, 6, 3, 0.5, 9),  # odd sizes, GQA group 2, exact ties at the top
        (5, 130, 4, 4, 0.25, 0),  # more policies than fit one tile of sources
    ],
)
def test_kernel_matches_reference(
    policies: int, visual: int, heads: int, kv_heads: int, ratio: float, duplicates: int
) -> None:
    inputs, hidden, rows = make_inputs(policies, visual, heads=heads, kv_heads=kv_heads, duplicates=duplicates)
    want = reference_prune(inputs, ratio, hidden, rows)
    assert_same(fused_prune(inputs, ratio, hidden, rows, Tiles()), want)  # the GPU tile sizes: boundaries inside
    assert_same(fused_prune(inputs, ratio, hidden, rows), want)  # this device's tile sizes


def test_exact_ties_rank_the_earlier_token_first() -> None:
    inputs, hidden, rows = make_inputs(2, 64, duplicates=63)  # every visual token has the same key: all tie
    got = fused_prune(inputs, 0.25, hidden, rows)
    assert torch.equal(got.keep.nonzero().flatten().cpu(), torch.arange(16))  # ceil(0.25 * 64) earliest tokens
    assert_same(got, reference_prune(inputs, 0.25, hidden, rows))


def test_keep_everything() -> None:
    inputs, hidden, rows = make_inputs(2, 70)
    got = fused_prune(inputs, 1.0, hidden, rows)
    assert bool(got.keep.all()) and torch.equal(got.hidden, hidden)


def test_shared_k_equals_select_on_random_ranks() -> None:
    g = torch.Generator().manual_seed(3)
    for _ in range(20):
        relevance = torch.rand(int(torch.randint(1, 9, (1,), generator=g)), 97, generator=g).round(decimals=1)
        best = pap.ranks(relevance).min(dim=0).values.to(torch.int32)
        for ratio in (0.01, 0.25, 0.6, 0.99):
            assert shared_k(best, ratio) == pap.select(relevance, ratio).k


def test_bytes_avoided_counts_the_probability_tensor() -> None:
    inputs, _, _ = make_inputs(64, 16384, heads=16, per_policy=20)
    policies, visual, heads, sources = inputs.shape
    assert inputs.bytes_avoided() == 4 * (
        heads * sources * visual - 2 * heads * sources - 2 * policies * visual - visual
    )
    assert inputs.bytes_avoided() > 0.99 * 4 * heads * sources * visual


def test_kernel_choice() -> None:
    cpu = torch.device("cpu")
    assert not use_fused_pap(KernelMode.TORCH, cpu)
    assert not use_fused_pap(KernelMode.AUTO, cpu)  # AUTO on CPU: torch (the interpreter is for tests)
    assert use_fused_pap(KernelMode.TRITON, cpu) == (os.environ.get("TRITON_INTERPRET") == "1")


SWEEP = [(1, 16384, 0.25), (2, 4097, 0.1), (8, 1000, 0.3), (16, 257, 0.5), (64, 64, 0.25), (64, 129, 0.5)]


@pytest.mark.slow
@pytest.mark.parametrize(("policies", "visual", "ratio"), SWEEP)
def test_kernel_matches_reference_wide(policies: int, visual: int, ratio: float) -> None:
    inputs, hidden, rows = make_inputs(policies, visual, heads=4, kv_heads=1, per_policy=3, seed=policies + visual)
    assert_same(fused_prune(inputs, ratio, hidden, rows), reference_prune(inputs, ratio, hidden, rows))
