"""SafeWatch guard on the mid-size random checkpoint: one-prefill vs generate-everything, PAP, policy cache, order.

One process. For each (frames, policies) configuration it times, on the same synthetic benign upload:
one-prefill scoring (paper layout, unpruned), the same with PAP keep 0.25, the policy-first layout with cached vs
recomputed policy KV, a policy permutation, and SafeWatch's generate-everything output (N forced new tokens).
Ratios compare two things timed in the same run; token and FLOP counts come with every row.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--checkpoint",
        type=Path,
        default=Path(".guardstream/cache/safewatch-mid"),
        help="mid checkpoint folder; generated here when absent (never committed)",
    )
    parser.add_argument("--size", choices=("tiny", "mid"), default="mid")
    parser.add_argument("--frames", default="8,16", help="comma-separated frame counts")
    parser.add_argument("--policies", default="6,30", help="comma-separated policy counts")
    parser.add_argument("--frame-edge", type=int, default=224, help="frame edge in pixels (multiple of 28)")
    parser.add_argument("--new-tokens", type=int, default=64, help="tokens the generate-everything baseline emits")
    parser.add_argument("--pap-layer", type=int, default=2)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")


def run(args: argparse.Namespace, settings: Any) -> dict[str, Any]:
    import torch

    from engines.safewatch.make_checkpoint import MARKER, make_checkpoint

    if args.threads:
        torch.set_num_threads(args.threads)
    if not (args.checkpoint / MARKER).is_file():
        make_checkpoint(args.checkpoint, args.size)
    rows = [_config_row(args, int(f), int(p)) for f in args.frames.split(",") for p in args.policies.split(",")]
    return _summary(args, rows)


def _policies(n: int) -> tuple[Any, ...]:
    """n policies from the default pack, cycled with distinct ids; review threshold high so the random model's
    ~0.5 scores count as benign (no explanation decoded), which is the case being measured."""
    from schemas.policy import Thresholds, load_policy_pack

    base = load_policy_pack().policy_sets[0].policies
    out = []
    for i in range(n):
        p = base[i % len(base)]
        out.append(p.model_copy(update={"id": f"{p.id}.{i}", "thresholds": Thresholds(review=0.99, auto_action=1.0)}))
    return tuple(out)


def _request(n_frames: int, edge: int, policies: tuple[Any, ...], seed: int) -> Any:
    import numpy as np

    from engines.base import Frames, GuardRequest

    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (n_frames, edge, edge, 3), dtype=np.uint8)
    frames = Frames(pixels, tuple(i * 1.0 for i in range(n_frames)), tuple(range(n_frames)))
    return GuardRequest(f"bench-{seed}", frames, policies, policy_set_version="bench-v1")


def _engine(args: argparse.Namespace, backbone: Any, **settings: Any) -> Any:
    from engines.safewatch.config import SafeWatchConfig
    from engines.safewatch.engine import SafeWatchEngine

    return SafeWatchEngine(
        backbone, SafeWatchConfig(pap_layer=args.pap_layer, max_frame_edge=args.frame_edge, **settings)
    )


_BACKBONE: dict[str, Any] = {}


def _backbone(path: Path) -> Any:
    from engines.safewatch.families import load_backbone

    if str(path) not in _BACKBONE:
        _BACKBONE[str(path)] = load_backbone(path)
    return _BACKBONE[str(path)]


def _timed(fn: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    result = fn()
    return result, (time.perf_counter() - started) * 1e3


def _config_row(args: argparse.Namespace, n_frames: int, n_policies: int) -> dict[str, Any]:
    from engines.safewatch.config import Layout

    bb = _backbone(args.checkpoint)
    pols = _policies(n_policies)
    upload, other = _request(n_frames, args.frame_edge, pols, 1), _request(n_frames, args.frame_edge, pols, 2)
    paper = _engine(args, bb)
    paper.score(other)  # priors (content-free, once per policy version) + warm-up
    full, full_ms = _timed(lambda: paper.score(upload))
    flagged = [(full, i) for i, p in enumerate(pols) if float(full.probabilities[i]) >= p.thresholds.review]
    _, explain_ms = _timed(lambda: paper.explain(flagged))
    perm = tuple(reversed(pols))
    permuted = paper.score(_request(n_frames, args.frame_edge, perm, 1)).probabilities.flip(0)
    pap_engine = _engine(args, bb, pap_keep_ratio=0.25)
    pap_engine.priors = paper.priors
    pruned, pruned_ms = _timed(lambda: pap_engine.score(upload))
    first = _engine(args, bb, layout=Layout.POLICY_FIRST)
    first.score(other)  # fills the policy-chunk cache and the priors
    cached, cached_ms = _timed(lambda: first.score(upload))
    recomputed, recomputed_ms = _timed(lambda: first.score(upload, use_cache=False))
    perm_first = first.score(_request(n_frames, args.frame_edge, perm, 1)).probabilities.flip(0)
    (_texts, gen, base_flops, prompt_tokens), base_ms = _timed(
        lambda: paper.generate_everything([upload], args.new_tokens, min_new_tokens=args.new_tokens)
    )
    one_prefill_ms = full_ms + explain_ms
    return {
        "frames": n_frames,
        "policies": n_policies,
        "frame_edge": args.frame_edge,
        "tokens": {
            "prefill": full.tokens["prefill_tokens"],
            "visual": full.tokens["visual_tokens"],
            "visual_kept_pap_025": pruned.tokens["visual_tokens_kept"],
            "policy_first_computed_cached": cached.tokens["computed_tokens"],
            "policy_first_computed_recomputed": recomputed.tokens["computed_tokens"],
            "baseline_prompt": prompt_tokens,
            "baseline_generated": gen.new_tokens,
            "flagged_policies": len(flagged),
        },
        "gflops": {
            "one_prefill": full.flops.total / 1e9,
            "pap_025": pruned.flops.total / 1e9,
            "policy_first_cached": cached.flops.total / 1e9,
            "policy_first_recomputed": recomputed.flops.total / 1e9,
            "generate_everything": (base_flops.total + gen.flops.total) / 1e9,
        },
        "ms": {
            "one_prefill": one_prefill_ms,
            "one_prefill_vision": full.timings_ms["vision_ms"],
            "one_prefill_decoder": full.timings_ms["prefill_ms"],
            "explain": explain_ms,
            "pap_025": pruned_ms,
            "pap_025_decoder": pruned.timings_ms["prefill_ms"],
            "policy_first_cached": cached_ms,
            "policy_first_recomputed": recomputed_ms,
            "generate_everything": base_ms,
        },
        "one_prefill_vs_generate": base_ms / one_prefill_ms,
        "pap_025_prefill_ratio": pruned_ms / full_ms,
        "pap_025_decoder_ratio": pruned.timings_ms["prefill_ms"] / full.timings_ms["prefill_ms"],
        "cached_policy_ratio": cached_ms / recomputed_ms,
        "cached_vs_recomputed_max_delta": float((cached.log_odds - recomputed.log_odds).abs().max()),
        "order_invariance_delta": {
            "paper": float((permuted - full.probabilities).abs().max()),
            "policy_first": float((perm_first - cached.probabilities).abs().max()),
        },
    }


def _summary(args: argparse.Namespace, rows: list[dict[str, Any]]) -> dict[str, Any]:
    import torch

    from engines.safewatch.make_checkpoint import MARKER

    at_most = [r for r in rows if r["policies"] == max(x["policies"] for x in rows)]
    meta = (args.checkpoint / MARKER).read_text()
    return {
        "benchmark": "safewatch",
        "checkpoint": meta,
        "torch_threads": torch.get_num_threads(),
        "one_prefill_vs_generate": min(r["one_prefill_vs_generate"] for r in rows),
        "pap_025_prefill_ratio": max(r["pap_025_prefill_ratio"] for r in rows),
        "pap_025_decoder_ratio": max(r["pap_025_decoder_ratio"] for r in rows),
        "cached_policy_ratio": max(r["cached_policy_ratio"] for r in at_most),
        "max_order_invariance_delta": max(max(r["order_invariance_delta"].values()) for r in rows),
        "headline_rule": "worst case over configurations (min speed-up, max ratios); cached ratio at the most policies",
        "targets": {
            "one_prefill_vs_generate": ">= 5",
            "pap_025_prefill_ratio": "<= 0.45",
            "cached_policy_ratio": "<= 0.6 at 30 policies",
            "max_order_invariance_delta": "<= 1e-4",
        },
        "configs": rows,
    }
