"""Compiled engines vs torch: per engine ORT-CPU vs torch-CPU throughput on the same inputs, max abs error; the PAP
kernel's reference check and the attention bytes it never writes; TensorRT rows when a TensorRT EP is present.

Engines: `minilm` (the text guard's embedder, Embedder torch vs Embedder on ORT, cache off, real policy texts),
`vision_tower` (SafeWatch Qwen2.5-VL tower, backbone.encode_video vs the exported per-grid tower), `visual_nsfw`
(issue 15's nsfwjs MobileNetV2: its torch twin vs its ONNX model, when the models folder has it). Timings are
interleaved rounds (torch, ORT, torch, ORT …); `ort_vs_torch` = median torch ms ÷ median ORT ms (> 1: ORT faster).
PAP kernel: Triton (interpreted on CPU) vs `reference_prune` on the same inputs across shapes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

PAP_SHAPES = ((1, 64), (3, 77), (8, 130), (16, 257), (64, 64), (2, 1024))  # (policies, visual tokens)
TARGET_RATIO = 1.3  # issue 14: ORT ≥ 1.3× torch for the embedder and the classifier


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rounds", type=int, default=5, help="interleaved timing rounds per engine")
    parser.add_argument("--threads", type=int, default=1, help="torch and ORT intra-op threads (same for both)")
    parser.add_argument("--checkpoint", type=Path, default=Path(".guardstream/cache/safewatch-mid"))
    parser.add_argument("--size", choices=("tiny", "mid"), default="mid", help="checkpoint generated when absent")
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--frame-edge", type=int, default=224)
    parser.add_argument("--no-pap", action="store_true", help="skip the PAP kernel check")
    parser.add_argument("--tensorrt", action="store_true", help="add TensorRT rows (needs a TensorRT EP)")


def run(args: argparse.Namespace, settings: Any) -> dict[str, Any]:
    import torch

    if not torch.cuda.is_available():  # before anything imports Triton (loading a Qwen model does): CPU interpreter
        os.environ.setdefault("TRITON_INTERPRET", "1")
    torch.set_num_threads(args.threads)
    cpu = settings.compile.model_copy(update={"intra_op_threads": args.threads, "providers": ("CPUExecutionProvider",)})
    factories = {"minilm": _minilm, "vision_tower": _vision, "visual_nsfw": _visual}
    calls = {name: make(args, settings, cpu) for name, make in factories.items()}
    engines = [_measure(name, pair, args.rounds) for name, pair in calls.items() if pair is not None]
    result: dict[str, Any] = {"engines": engines, "threads": args.threads, "cpu_count": os.cpu_count()}
    result["skipped"] = [name for name, pair in calls.items() if pair is None]
    result["pap_kernel"] = {} if args.no_pap else _pap_kernel()
    if args.tensorrt:
        result["tensorrt"] = _tensorrt(args, settings, cpu, factories, calls)
    result["targets"] = {
        e["name"]: {"ort_vs_torch": e["ort_vs_torch"], "target": TARGET_RATIO, "met": e["ort_vs_torch"] >= TARGET_RATIO}
        for e in engines
        if e["name"] in ("minilm", "visual_nsfw")
    }
    return result


Call = Callable[[], Any]
Pair = tuple[Call, Call]  # (torch path, compiled path) on the same inputs


def _measure(name: str, pair: Pair, rounds: int, labels: tuple[str, str] = ("torch", "ort")) -> dict[str, Any]:
    """Interleaved rounds of both calls; ratio of medians (first ÷ second) and max abs difference of outputs."""
    first, second = pair
    want, got = _as_array(first()), _as_array(second())  # also the warm-up
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(rounds):
        times[0].append(_timed(first))
        times[1].append(_timed(second))
    a, b = statistics.median(times[0]), statistics.median(times[1])
    return {
        "name": name,
        f"{labels[1]}_vs_{labels[0]}": round(a / b, 3),
        "max_abs_error": float(np.abs(got - want).max()),
        f"{labels[0]}_ms_median": round(a, 2),
        f"{labels[1]}_ms_median": round(b, 2),
        "rounds": rounds,
    }


def _timed(call: Call) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1e3


def _as_array(value: Any) -> np.ndarray:
    return np.asarray(value.detach().cpu().numpy() if hasattr(value, "detach") else value, dtype=np.float64)


def _minilm(args: argparse.Namespace, settings: Any, compile_settings: Any) -> Pair | None:
    """Embedder on torch vs on the compiled MiniLM: the pack's policy definitions, LRU cache off."""
    from guardstream.engines.compile.settings import Runtime
    from guardstream.engines.text.embed import Embedder
    from guardstream.schemas.policy import load_policy_pack

    texts = [p.definition for s in load_policy_pack().policy_sets for p in s.policies]
    eager = Embedder(cache_size=0, compile_settings=compile_settings.model_copy(update={"runtime": Runtime.TORCH}))
    compiled = Embedder(cache_size=0, compile_settings=compile_settings)
    eager.load()
    compiled.load()
    if compiled.runtime != "onnxruntime":
        return None
    return (lambda: eager.embed(texts), lambda: compiled.embed(texts))


def _vision(args: argparse.Namespace, settings: Any, compile_settings: Any) -> Pair | None:
    """backbone.encode_video vs the exported tower, `--frames` random frames at `--frame-edge` px."""
    from guardstream.engines.compile.hooks import video_encoder
    from guardstream.engines.safewatch.families import load_backbone
    from guardstream.engines.safewatch.make_checkpoint import MARKER, make_checkpoint
    from guardstream.engines.safewatch.patchify import prepare_video

    if not (args.checkpoint / MARKER).is_file():
        make_checkpoint(args.checkpoint, args.size)
    backbone = load_backbone(args.checkpoint)
    encoder = video_encoder(backbone, compile_settings)
    pixels = np.random.default_rng(0).integers(0, 256, (args.frames, args.frame_edge, args.frame_edge, 3), np.uint8)
    video = prepare_video(pixels, tuple(float(i) for i in range(args.frames)), backbone.vision, args.frame_edge)
    if encoder is None:
        return None
    encoder(video.patches, video.grid_thw)  # builds (or loads) this grid's engine
    if encoder.runtime((video.grid_thw[1], video.grid_thw[2])) != "onnxruntime":
        return None
    return (
        lambda: backbone.encode_video(video.patches, video.grid_thw),
        lambda: encoder(video.patches, video.grid_thw),
    )


def _visual(args: argparse.Namespace, settings: Any, compile_settings: Any) -> Pair | None:
    """Issue 15's nsfwjs MobileNetV2: its torch twin vs its ONNX model on one batch of 8 (when set up)."""
    try:
        import torch

        from guardstream.engines.visual.catalog import MODELS
        from guardstream.engines.visual.keras_torch import build_torch_model
        from guardstream.engines.visual.provision import tarball_path, unpack
        from guardstream.engines.visual.runtime import Device, ModelRunner
        from guardstream.engines.visual.tfjs import read_tfjs_model

        models_dir = compile_settings.models_dir
        root = unpack(tarball_path(models_dir), models_dir / "cache" / "nsfwjs-4.4.0")
        tfjs = read_tfjs_model(root / MODELS["nsfw"].package_file)
        device = Device.TENSORRT if "TensorrtExecutionProvider" in compile_settings.providers else Device.CPU
        runner = ModelRunner.open(models_dir, "nsfw", device, compile_settings.intra_op_threads)
    except Exception:  # the visual models come from `make setup` (issue 15); without them there is no row
        return None
    model = build_torch_model(tfjs.topology, tfjs.weights)
    batch = np.random.default_rng(1).random((8, 224, 224, 3), dtype=np.float32)

    def eager() -> Any:
        with torch.inference_mode():
            return model(torch.from_numpy(batch))

    return (eager, lambda: runner.run(batch))


def _pap_kernel() -> dict[str, Any]:
    """Fused kernel vs `reference_prune` on the same synthetic inputs (interpreted on CPU, compiled on CUDA)."""
    import torch

    cuda = torch.cuda.is_available()
    from guardstream.engines.safewatch.kernels import triton_installed
    from guardstream.engines.safewatch.kernels.fused_pap import fused_prune, reference_prune
    from guardstream.engines.safewatch.kernels.synthetic import synthetic_inputs

    if not triton_installed():
        return {"reference_match": False, "shapes_checked": 0, "bytes_avoided": 0, "error": "triton not installed"}
    device = torch.device("cuda" if cuda else "cpu")
    rows = []
    for policies, visual in PAP_SHAPES:
        inputs, hidden, visual_rows = synthetic_inputs(policies, visual, seed=visual, device=device)
        got, want = fused_prune(inputs, 0.25, hidden, visual_rows), reference_prune(inputs, 0.25, hidden, visual_rows)
        error = float((got.relevance - want.relevance).abs().max())
        same = bool(torch.equal(got.keep.cpu(), want.keep.cpu()) and torch.equal(got.hidden, want.hidden))
        rows.append({"policies": policies, "visual": visual, "match": same and error <= 1e-6,
                     "relevance_max_abs_error": error, "bytes_avoided": inputs.bytes_avoided()})  # fmt: skip
    return {
        "reference_match": all(r["match"] for r in rows),
        "shapes_checked": len(rows),
        "bytes_avoided": sum(r["bytes_avoided"] for r in rows),
        "bytes_avoided_at_scale": _at_scale(),
        "device": "cuda" if cuda else "cpu (TRITON_INTERPRET=1)",
        "shapes": rows,
        "cuda_timing": _cuda_timing() if cuda else None,
    }


def _cuda_timing(repeats: int = 10) -> dict[str, Any]:
    """The at-scale shape on the GPU: median ms and peak allocated MiB of the fused kernel vs the torch reference."""
    import torch

    from guardstream.engines.safewatch.kernels.fused_pap import fused_prune, reference_prune
    from guardstream.engines.safewatch.kernels.synthetic import synthetic_inputs

    scale = _at_scale()
    inputs, hidden, rows = synthetic_inputs(
        scale["policies"], scale["visual"], heads=scale["heads"], kv_heads=4, head_dim=64, per_policy=60,
        device=torch.device("cuda"),
    )  # fmt: skip
    figures: dict[str, Any] = {}
    for name, prune in (("fused", fused_prune), ("reference", reference_prune)):
        prune(inputs, 0.25, hidden, rows)  # compile / warm up
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            prune(inputs, 0.25, hidden, rows)
            torch.cuda.synchronize()
            times.append((time.perf_counter() - started) * 1e3)
        figures[f"{name}_ms_median"] = round(statistics.median(times), 3)
        figures[f"{name}_peak_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    figures["fused_vs_reference"] = round(figures["reference_ms_median"] / figures["fused_ms_median"], 3)
    return figures


def _at_scale() -> dict[str, Any]:
    """The mid checkpoint's PAP layer at 448 px, 16 frames, 30 policies, paper layout (sources = chunk tokens)."""
    heads, policies, chunk_tokens, visual = 12, 30, 60, 2048
    sources = policies * chunk_tokens
    written = 2 * heads * sources + 2 * policies * visual + visual
    return {"heads": heads, "policies": policies, "sources": sources, "visual": visual,
            "bytes": (heads * sources * visual - written) * 4}  # fmt: skip


def _tensorrt(
    args: argparse.Namespace, settings: Any, cpu: Any, factories: dict[str, Any], calls: dict[str, Pair | None]
) -> list[dict[str, Any]]:
    """Per engine: ORT-CPU vs ORT-TensorRT (settings' precision) throughput, and TensorRT's max error vs torch."""
    from guardstream.engines.compile.ort import CUDA, TENSORRT, available_providers

    if TENSORRT not in available_providers():
        return [{"error": f"no {TENSORRT} in this onnxruntime build: {available_providers()}"}]
    gpu = cpu.model_copy(update={"providers": (TENSORRT, CUDA)})
    rows = []
    for name, pair in calls.items():
        trt = factories[name](args, settings, gpu) if pair is not None else None
        if pair is None or trt is None:
            rows.append({"name": name, "error": "no TensorRT engine (see the compiled_engine_* / tensorrt_* logs)"})
            continue
        row = _measure(name, (pair[1], trt[1]), args.rounds, ("ort_cpu", "tensorrt"))
        row["max_abs_error_vs_torch"] = float(np.abs(_as_array(trt[1]()) - _as_array(pair[0]())).max())
        row["precision"] = gpu.tensorrt_precision.value
        rows.append(row)
    return rows
