"""The SafeWatch engine with the fused PAP kernel at its pruning layer gives the torch path's kept tokens and scores;
a kernel that cannot run leaves the torch result with a warning (no crash)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import torch

if not torch.cuda.is_available():  # before Triton is first imported: interpret the kernels on CPU tensors
    os.environ.setdefault("TRITON_INTERPRET", "1")

from typing import Any

import numpy as np
import pytest

from guardstream.engines.base import Frames, GuardRequest
from guardstream.engines.compile.settings import CompileSettings, KernelMode, Runtime
from guardstream.engines.safewatch.config import Layout, SafeWatchConfig
from guardstream.engines.safewatch.engine import SafeWatchEngine
from guardstream.engines.safewatch.families import load_backbone
from guardstream.engines.safewatch.kernels import triton_installed
from guardstream.engines.safewatch.kernels.prune_layer import FusedPap
from guardstream.engines.safewatch.make_checkpoint import make_checkpoint
from guardstream.schemas.policy import load_policy_pack

pytestmark = pytest.mark.skipif(not triton_installed(), reason="triton is not installed (dev / gpu extra)")
TORCH_VISION = CompileSettings(runtime=Runtime.TORCH)  # vision on torch: this file is about PAP only


@pytest.fixture(scope="module")
def backbone(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return load_backbone(make_checkpoint(tmp_path_factory.mktemp("pap") / "tiny", "tiny"))


def _request() -> GuardRequest:
    pixels = np.random.default_rng(5).integers(0, 256, (4, 32, 48, 3), dtype=np.uint8)
    frames = Frames(pixels, (0.0, 0.5, 1.0, 1.5), (0, 1, 2, 3))
    return GuardRequest("u1", frames, load_policy_pack().policy_sets[0].policies[:3], policy_set_version="v1")


@pytest.mark.skipif(
    torch.cuda.is_available(), reason="the SafeWatch engine runs on CPU tensors; on CUDA machines test_pap_kernel runs"
)
@pytest.mark.parametrize("layout", [Layout.POLICY_FIRST, pytest.param(Layout.PAPER, marks=pytest.mark.slow)])
def test_engine_with_kernel_matches_torch(backbone: Any, layout: Layout) -> None:
    config = SafeWatchConfig(layout=layout, pap_keep_ratio=0.25, pap_layer=1)
    fused = SafeWatchEngine(backbone, config, TORCH_VISION.model_copy(update={"pap_kernel": KernelMode.TRITON}))
    eager = SafeWatchEngine(backbone, config, TORCH_VISION.model_copy(update={"pap_kernel": KernelMode.TORCH}))
    runs = FusedPap.kernel_runs
    got, want = fused.score(_request()), eager.score(_request())
    assert FusedPap.kernel_runs == runs + 1  # the kernel answered the pruning layer (no fallback)
    assert torch.equal(got.out.visual_keep, want.out.visual_keep)
    assert torch.equal(got.out.kept, want.out.kept)
    assert float((got.out.relevance - want.out.relevance).abs().max()) <= 1e-6
    assert float((got.log_odds - want.log_odds).abs().max()) <= 1e-4
    assert got.tokens == want.tokens


def test_kernel_that_cannot_run_falls_back_to_torch(tmp_path: Any) -> None:
    """Without the interpreter, CPU tensors cannot run a Triton kernel: a real failure, answered by torch."""
    script = textwrap.dedent(
        """
        import os
        os.environ["TRITON_INTERPRET"] = "0"  # no interpreter, no GPU: Triton cannot launch
        import json, torch, structlog
        from guardstream.engines.safewatch.kernels.prune_layer import FusedPap
        from guardstream.engines.safewatch.kernels.fused_pap import reference_prune
        from guardstream.engines.safewatch.kernels.synthetic import synthetic_inputs
        inputs, hidden, rows = synthetic_inputs(2, 40)
        fused = FusedPap(0.25, rows, [])
        with structlog.testing.capture_logs() as logs:
            pruned = fused._prune(inputs, hidden)
        want = reference_prune(inputs, 0.25, hidden, rows)
        print(json.dumps({"same": bool(torch.equal(pruned.keep, want.keep)), "events": [e["event"] for e in logs],
                          "failed": fused.failed is not None}))
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    result = __import__("json").loads(out.stdout.strip().splitlines()[-1])
    assert result == {"same": True, "events": ["pap_kernel_failed"], "failed": True}


def test_default_on_cpu_is_the_torch_path(backbone: Any) -> None:
    engine = SafeWatchEngine(backbone, SafeWatchConfig(pap_keep_ratio=0.5, pap_layer=1), TORCH_VISION)
    runs = FusedPap.kernel_runs
    engine.score(_request())
    assert engine.pap_kernel is KernelMode.AUTO and FusedPap.kernel_runs == runs  # AUTO uses the kernel on GPUs only
