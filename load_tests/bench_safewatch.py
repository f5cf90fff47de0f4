"""SafeWatch guard on the mid-size random checkpoint: serving path vs SafeWatch path, PAP, policy cache, order.

One process, torch threads fixed. For each (frames, policies) configuration, on the same synthetic benign upload,
variants run *interleaved* (one warm-up round, then rounds V1, V2, …, Vn, V1, V2, … so CPU contention from other
jobs hits every variant alike); each variant's median and min are reported, ratios are median ÷ median.

Main grid (frames at `--frame-edge`):
- `paper_one_prefill`: one-prefill scoring, paper layout (video → policies → queries), nothing cached;
- `safewatch_generate`: SafeWatch's path — paper layout, generate-everything with N forced new tokens;
- `serving`: our serving path for benign uploads — policy-first layout, cached policy-chunk KV, one prefill;
- `serving_pap025`: the same with PAP keep 0.25 at `--pap-layer`;
- `policy_first_recomputed`: policy-first with the policy chunks recomputed (no cache);
- `paper_pap025`: paper layout with PAP keep 0.25.
PAP block (frames at `--pap-frame-edge`, where visual tokens dominate the per-upload prefill): `serving` with
PAP keep 1.0, keep 0.25 at `--pap-layer`, keep 0.25 at layer 1 (the cached policy KV is shared with the grid).

Token and FLOP counts come with every row. Headline keys are the median over configurations, with the worst
case next to them (`*_worst`); `headline_definitions` in the output says which pair each one compares.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

HEADLINE_DEFINITIONS = {
    "one_prefill_vs_generate": (
        "per upload at --frame-edge, median ms of SafeWatch's path (paper layout, generate-everything, N forced "
        "new tokens) / median ms of our serving path (policy-first layout, cached policy-chunk KV, one-prefill "
        "scoring, no PAP); end to end per upload (frame preprocessing, vision tower, decoder, head), benign upload"
    ),
    "one_prefill_vs_generate_paper_layout": (
        "same, but one-prefill in the paper layout with nothing cached (isolates one-prefill vs generating)"
    ),
    "serving_pap025_vs_generate": "same as one_prefill_vs_generate with PAP keep 0.25 in the serving path",
    "pap_025_prefill_ratio": (
        "PAP block (--pap-frame-edge), policy-first cached: median ms of the decoder layers after the PAP layer "
        "with keep 0.25 / the same layers with keep 1.0 (the prefill PAP shortens)"
    ),
    "pap_025_decoder_ratio": "same pair, whole decoder prefill (all layers, incl. the ones before pruning)",
    "pap_025_upload_ratio": "same pair, whole per-upload scoring call (incl. preprocessing and vision tower)",
    "pap_025_layer1_prefill_ratio": "PAP block, PAP at layer 1: decoder ms after layer 1, keep 0.25 / keep 1.0",
    "pap_025_layer1_decoder_ratio": "PAP block, PAP at layer 1: whole decoder ms, keep 0.25 / keep 1.0",
    "pap_025_prefill_ratio_main_edge": "as pap_025_prefill_ratio, at --frame-edge (main grid)",
    "pap_025_paper_prefill_ratio": "main grid, paper layout: after-PAP-layer decoder ms keep 0.25 / keep 1.0",
    "pap_025_paper_decoder_ratio": "main grid, paper layout: whole decoder ms keep 0.25 / keep 1.0",
    "cached_policy_ratio": (
        "main grid, policy-first layout: median ms with cached policy-chunk KV / recomputing the chunks, at the "
        "most policies"
    ),
    "max_order_invariance_delta": "largest |Δp| between a policy order and its reverse, both layouts, all configs",
}
TARGETS = {
    "one_prefill_vs_generate": ">= 5",
    "pap_025_prefill_ratio": "<= 0.45",
    "cached_policy_ratio": "<= 0.6 at 30 policies",
    "max_order_invariance_delta": "<= 1e-4",
}


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
    parser.add_argument("--frame-edge", type=int, default=224, help="main grid frame edge in px (multiple of 28)")
    parser.add_argument(
        "--pap-frame-edge", type=int, default=448, help="PAP block frame edge in px (the guard's default edge)"
    )
    parser.add_argument("--new-tokens", type=int, default=64, help="tokens the generate-everything baseline emits")
    parser.add_argument("--pap-layer", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3, help="timed interleaved rounds after one warm-up round")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads (fixed for the run)")


def run(args: argparse.Namespace, settings: Any) -> dict[str, Any]:
    import torch

    from guardstream.engines.safewatch.make_checkpoint import MARKER, make_checkpoint

    torch.set_num_threads(args.threads)
    if not (args.checkpoint / MARKER).is_file():
        make_checkpoint(args.checkpoint, args.size)
    started = time.perf_counter()
    rows = [_config_row(args, int(f), int(p)) for f in args.frames.split(",") for p in args.policies.split(",")]
    return _summary(args, rows, time.perf_counter() - started)


def _policies(n: int) -> tuple[Any, ...]:
    """n policies from the default pack, cycled with distinct ids; review threshold high so the random model's
    ~0.5 scores count as benign (no explanation decoded), which is the case being measured."""
    from guardstream.schemas.policy import Thresholds, load_policy_pack

    base = load_policy_pack().policy_sets[0].policies
    out = []
    for i in range(n):
        p = base[i % len(base)]
        out.append(p.model_copy(update={"id": f"{p.id}.{i}", "thresholds": Thresholds(review=0.99, auto_action=1.0)}))
    return tuple(out)


def _request(n_frames: int, edge: int, policies: tuple[Any, ...], seed: int) -> Any:
    import numpy as np

    from guardstream.engines.base import Frames, GuardRequest

    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (n_frames, edge, edge, 3), dtype=np.uint8)
    frames = Frames(pixels, tuple(i * 1.0 for i in range(n_frames)), tuple(range(n_frames)))
    return GuardRequest(f"bench-{seed}", frames, policies, policy_set_version="bench-v1")


def _engine(args: argparse.Namespace, backbone: Any, **settings: Any) -> Any:
    from guardstream.engines.safewatch.config import SafeWatchConfig
    from guardstream.engines.safewatch.engine import SafeWatchEngine

    settings.setdefault("pap_layer", args.pap_layer)
    settings.setdefault("max_frame_edge", args.frame_edge)
    return SafeWatchEngine(backbone, SafeWatchConfig(**settings))


_BACKBONE: dict[str, Any] = {}


def _backbone(path: Path) -> Any:
    from guardstream.engines.safewatch.families import load_backbone

    if str(path) not in _BACKBONE:
        _BACKBONE[str(path)] = load_backbone(path)
    return _BACKBONE[str(path)]


def _interleaved(
    variants: dict[str, Callable[[], Any]], repeats: int, split: Callable[[Any], dict[str, float]]
) -> tuple[dict[str, dict[str, list[float]]], dict[str, Any]]:
    """One warm-up round, then `repeats` rounds running every variant once in turn. Returns, per variant, the
    wall ms of each timed round plus `split(result)` parts (e.g. decoder ms), and each variant's last result."""
    samples: dict[str, dict[str, list[float]]] = {name: {"total": []} for name in variants}
    last: dict[str, Any] = {}
    for round_index in range(repeats + 1):
        for name, fn in variants.items():
            last.pop(name, None)  # free the previous result's KV before the next run
            started = time.perf_counter()
            last[name] = fn()
            if round_index:  # round 0 is the warm-up
                samples[name]["total"].append((time.perf_counter() - started) * 1e3)
                for part, value in split(last[name]).items():
                    samples[name].setdefault(part, []).append(value)
    return samples, last


def _stats(samples: list[float]) -> dict[str, float]:
    return {"median": statistics.median(samples), "min": min(samples), "n": len(samples)}


def _split(layer: int) -> Callable[[Any], dict[str, float]]:
    """Parts of a scoring call timed inside it: vision tower, decoder, decoder layers after `layer` / layer 1."""

    def split(result: Any) -> dict[str, float]:
        if not hasattr(result, "out"):
            return {}
        return {
            "vision": result.timings_ms["vision_ms"],
            "decoder": result.timings_ms["prefill_ms"],
            "decoder_after_pap_layer": result.out.after_layer(layer)[0],
            "decoder_after_layer1": result.out.after_layer(1)[0],
        }

    return split


def _medians(samples: dict[str, dict[str, list[float]]]) -> tuple[dict[str, Any], Callable[..., float]]:
    ms = {name: {part: _stats(values) for part, values in parts.items()} for name, parts in samples.items()}

    def med(name: str, part: str = "total") -> float:
        # a layer split can be empty (PAP at the last layer); keep the ratio finite
        return max(float(ms[name][part]["median"]), 1e-9)

    return ms, med


def _config_row(args: argparse.Namespace, n_frames: int, n_policies: int) -> dict[str, Any]:
    from guardstream.engines.safewatch.config import Layout

    bb = _backbone(args.checkpoint)
    layer = min(args.pap_layer, len(bb.layers) - 1)
    pols = _policies(n_policies)
    upload, other = _request(n_frames, args.frame_edge, pols, 1), _request(n_frames, args.frame_edge, pols, 2)
    perm = _request(n_frames, args.frame_edge, tuple(reversed(pols)), 1)
    paper, paper_pap = _engine(args, bb), _engine(args, bb, pap_keep_ratio=0.25)
    first = _engine(args, bb, layout=Layout.POLICY_FIRST)
    first_pap = _engine(args, bb, layout=Layout.POLICY_FIRST, pap_keep_ratio=0.25)
    paper.score(other)  # content-free priors (once per policy version) for the paper layout
    first.score(other)  # fills the policy-chunk KV cache and the policy-first priors
    paper_pap.priors = paper.priors
    first_pap.priors, first_pap.chunk_cache = first.priors, first.chunk_cache
    flagged_count = [0]

    def one_prefill() -> Any:
        scored = paper.score(upload)
        flagged = [(scored, i) for i, p in enumerate(pols) if float(scored.probabilities[i]) >= p.thresholds.review]
        paper.explain(flagged)
        flagged_count[0] = len(flagged)
        return scored

    variants: dict[str, Callable[[], Any]] = {
        "paper_one_prefill": one_prefill,
        "safewatch_generate": lambda: paper.generate_everything(
            [upload], args.new_tokens, min_new_tokens=args.new_tokens
        ),
        "serving": lambda: first.score(upload),
        "serving_pap025": lambda: first_pap.score(upload),
        "policy_first_recomputed": lambda: first.score(upload, use_cache=False),
        "paper_pap025": lambda: paper_pap.score(upload),
    }
    samples, last = _interleaved(variants, args.repeats, _split(layer))
    _texts, gen, base_flops, prompt_tokens = last.pop("safewatch_generate")
    order_delta = {
        "paper": float((paper.score(perm).probabilities.flip(0) - last["paper_one_prefill"].probabilities).abs().max()),
        "policy_first": float((first.score(perm).probabilities.flip(0) - last["serving"].probabilities).abs().max()),
    }
    main = _main_row(args, layer, samples, last, (gen, base_flops, prompt_tokens), flagged_count[0])
    main["cached_vs_recomputed_max_delta"] = float(
        (last["serving"].log_odds - last["policy_first_recomputed"].log_odds).abs().max()
    )
    last.clear()
    pap_block = _pap_block(args, bb, layer, pols, n_frames, first)
    headline = {key: main.pop(key) for key in list(main) if key in HEADLINE_DEFINITIONS}
    headline |= {key: pap_block.pop(key) for key in list(pap_block) if key in HEADLINE_DEFINITIONS}
    return {
        "frames": n_frames,
        "policies": n_policies,
        "pap_layer": layer,
        **headline,
        "order_invariance_delta": order_delta,
        "main": main,
        "pap_block": pap_block,
    }


def _main_row(
    args: argparse.Namespace,
    layer: int,
    samples: dict[str, dict[str, list[float]]],
    scored: dict[str, Any],
    baseline: tuple[Any, Any, int],
    n_flagged: int,
) -> dict[str, Any]:
    """Token/FLOP counts from the last round's results; times as median and min over the timed rounds."""
    gen, base_flops, prompt_tokens = baseline
    ms, med = _medians(samples)
    gflops = {name: s.flops.total / 1e9 for name, s in scored.items()}
    gflops["safewatch_generate"] = (base_flops.total + gen.flops.total) / 1e9
    gflops |= {f"{name}_after_layer{layer}": s.out.after_layer(layer)[1] / 1e9 for name, s in scored.items()}
    return {
        "frame_edge": args.frame_edge,
        "tokens": {
            "paper_prefill": scored["paper_one_prefill"].tokens["prefill_tokens"],
            "visual": scored["paper_one_prefill"].tokens["visual_tokens"],
            "visual_kept_pap_025": scored["serving_pap025"].tokens["visual_tokens_kept"],
            "serving_computed": scored["serving"].tokens["computed_tokens"],
            "serving_computed_after_pap_layer_keep_025": scored["serving_pap025"].out.layer_tokens[-1],
            "serving_cached_policy_tokens": scored["policy_first_recomputed"].tokens["computed_tokens"]
            - scored["serving"].tokens["computed_tokens"],
            "policy_first_recomputed": scored["policy_first_recomputed"].tokens["computed_tokens"],
            "baseline_prompt": prompt_tokens,
            "baseline_generated": gen.new_tokens,
            "flagged_policies": n_flagged,
        },
        "gflops": gflops,
        "ms": ms,
        "one_prefill_vs_generate": med("safewatch_generate") / med("serving"),
        "one_prefill_vs_generate_paper_layout": med("safewatch_generate") / med("paper_one_prefill"),
        "serving_pap025_vs_generate": med("safewatch_generate") / med("serving_pap025"),
        "pap_025_prefill_ratio_main_edge": med("serving_pap025", "decoder_after_pap_layer")
        / med("serving", "decoder_after_pap_layer"),
        "pap_025_paper_prefill_ratio": med("paper_pap025", "decoder_after_pap_layer")
        / med("paper_one_prefill", "decoder_after_pap_layer"),
        "pap_025_paper_decoder_ratio": med("paper_pap025", "decoder") / med("paper_one_prefill", "decoder"),
        "cached_policy_ratio": med("serving") / med("policy_first_recomputed"),
        "gflops_ratios": {
            "generate_vs_serving": gflops["safewatch_generate"] / gflops["serving"],
            "generate_vs_paper_one_prefill": gflops["safewatch_generate"] / gflops["paper_one_prefill"],
            "cached_vs_recomputed": gflops["serving"] / gflops["policy_first_recomputed"],
        },
    }


def _pap_block(
    args: argparse.Namespace, bb: Any, layer: int, pols: tuple[Any, ...], n_frames: int, first: Any
) -> dict[str, Any]:
    """Policy-first cached scoring at `--pap-frame-edge`: PAP keep 1.0 vs 0.25 (at `layer` and at layer 1)."""
    from guardstream.engines.safewatch.config import Layout

    edge = args.pap_frame_edge
    upload = _request(n_frames, edge, pols, 1)
    engines = {
        "serving": _engine(args, bb, layout=Layout.POLICY_FIRST, max_frame_edge=edge),
        "serving_pap025": _engine(args, bb, layout=Layout.POLICY_FIRST, max_frame_edge=edge, pap_keep_ratio=0.25),
        "serving_pap025_l1": _engine(
            args, bb, layout=Layout.POLICY_FIRST, max_frame_edge=edge, pap_keep_ratio=0.25, pap_layer=1
        ),
    }
    for engine in engines.values():  # policy KV and priors do not depend on the frames
        engine.priors, engine.chunk_cache = first.priors, first.chunk_cache
    variants: dict[str, Callable[[], Any]] = {name: partial(engine.score, upload) for name, engine in engines.items()}
    samples, last = _interleaved(variants, args.repeats, _split(layer))
    ms, med = _medians(samples)
    after = {name: s.out.after_layer(layer)[1] / 1e9 for name, s in last.items()}
    after1 = {name: s.out.after_layer(1)[1] / 1e9 for name, s in last.items()}
    return {
        "frame_edge": edge,
        "tokens": {
            "visual": last["serving"].tokens["visual_tokens"],
            "visual_kept_pap_025": last["serving_pap025"].tokens["visual_tokens_kept"],
            "computed_per_upload": last["serving"].tokens["computed_tokens"],
            "computed_after_pap_layer_keep_025": last["serving_pap025"].out.layer_tokens[-1],
            "cached_policy_tokens": sum(
                len(last["serving"].plan.segments[i].ids) for i in last["serving"].plan.of_kind("chunk")
            ),
        },
        "gflops": {
            **{name: s.flops.total / 1e9 for name, s in last.items()},
            **{f"{name}_after_layer{layer}": v for name, v in after.items()},
            **{f"{name}_after_layer1": v for name, v in after1.items()},
        },
        "ms": ms,
        "pap_025_prefill_ratio": med("serving_pap025", "decoder_after_pap_layer")
        / med("serving", "decoder_after_pap_layer"),
        "pap_025_decoder_ratio": med("serving_pap025", "decoder") / med("serving", "decoder"),
        "pap_025_upload_ratio": med("serving_pap025") / med("serving"),
        "pap_025_layer1_prefill_ratio": med("serving_pap025_l1", "decoder_after_layer1")
        / med("serving", "decoder_after_layer1"),
        "pap_025_layer1_decoder_ratio": med("serving_pap025_l1", "decoder") / med("serving", "decoder"),
        "gflops_ratios": {
            "pap_025_after_pap_layer": after["serving_pap025"] / after["serving"],
            "pap_025_decoder": last["serving_pap025"].flops.decoder / last["serving"].flops.decoder,
            "pap_025_layer1_after_layer1": after1["serving_pap025_l1"] / after1["serving"],
        },
    }


def _summary(args: argparse.Namespace, rows: list[dict[str, Any]], elapsed_s: float) -> dict[str, Any]:
    import torch

    from guardstream.engines.safewatch.make_checkpoint import MARKER

    most = max(r["policies"] for r in rows)
    at_most = [r for r in rows if r["policies"] == most]
    headline: dict[str, Any] = {}
    for key in HEADLINE_DEFINITIONS:
        if key == "max_order_invariance_delta":
            continue
        pool = at_most if key == "cached_policy_ratio" else rows
        values = [r[key] for r in pool]
        worst = min(values) if key.endswith("vs_generate") or key.endswith("_paper_layout") else max(values)
        headline[key], headline[f"{key}_worst"] = statistics.median(values), worst
    return {
        "benchmark": "safewatch",
        "checkpoint": (args.checkpoint / MARKER).read_text(),
        "torch_threads": torch.get_num_threads(),
        "frame_edge": args.frame_edge,
        "pap_frame_edge": args.pap_frame_edge,
        "timed_rounds": args.repeats,
        "elapsed_s": elapsed_s,
        **headline,
        "max_order_invariance_delta": max(max(r["order_invariance_delta"].values()) for r in rows),
        "headline_rule": (
            "plain key = median over configurations; *_worst = worst configuration (min speed-up, max ratio); "
            f"cached_policy_ratio over the configurations with {most} policies. Per configuration: variants run "
            f"interleaved ({args.repeats} timed rounds after a warm-up round), every ratio is median/median, "
            "including the decoder and after-PAP-layer splits (timed inside each call)."
        ),
        "headline_definitions": HEADLINE_DEFINITIONS,
        "targets": TARGETS,
        "configs": rows,
    }
