"""Guards: per-guard throughput (frames/s, batch 1 and batched), ORT vs torch on the same MobileNetV2, and the
cascade's cost vs running every guard (`cascade_vs_all_guards`, load_tests/cascade_cost.py).

Every figure is a ratio of two things timed in this run on the same inputs: batched ÷ batch-1 frames/s per guard;
torch ÷ ORT latency for nsfwjs' MobileNetV2 (our torch module on the same de-quantised weights vs the converted
ONNX model, same threads, rounds interleaved, medians). Inputs are benign synthetic frames (no imagery of people).
Measurements are the functions in MEASUREMENTS: add one there (name, add-arguments hook, measure function).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

Measure = Callable[[argparse.Namespace, Any], dict[str, Any]]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--only", default="", help="comma-separated measurements (default: all)")
    parser.add_argument("--frames", type=int, default=32, help="frames per throughput run")
    parser.add_argument("--batch", type=int, default=16, help="batch size of the batched runs")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved timed rounds (medians are kept)")
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads for ORT and torch alike")
    parser.add_argument("--models", default="nsfw,open-nsfw,image-safety", help="experts to time")
    for _, add, _ in MEASUREMENTS:
        if add is not None:
            add(parser)


def run(args: argparse.Namespace, settings: Any) -> dict[str, Any]:
    wanted = {n for n in args.only.split(",") if n}
    out: dict[str, Any] = {"frames": args.frames, "batch": args.batch, "threads": args.threads}
    for name, _, measure in MEASUREMENTS:
        if not wanted or name in wanted:
            out[name] = measure(args, settings)
    return out


def _frames(count: int, size: int = 224, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    fields = [np.stack([a * xx + b * yy + c for a, b, c in rng.random((3, 3))], -1) for _ in range(count)]
    return np.stack([(np.clip(f / f.max(), 0, 1) * 255).astype(np.uint8) for f in fields])


def _median_s(fn: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _models_dir(settings: Any) -> Path:
    from guardstream.engines.visual.provision import setup_models

    models_dir = Path(settings.stack.home) / "models"
    setup_models(models_dir)  # idempotent: only checks checksums when the models are there
    return models_dir


def guard_throughput(args: argparse.Namespace, settings: Any) -> dict[str, Any]:
    """Frames/s at batch 1 and batched for each expert (preprocessing included) and for the visual guard."""
    from guardstream.engines.base import Frames, GuardRequest
    from guardstream.engines.visual.guard import VisualGuard
    from guardstream.engines.visual.runtime import ModelRunner
    from guardstream.schemas.policy import load_policy_pack

    models_dir, frames, b = _models_dir(settings), _frames(args.frames), args.batch
    out: dict[str, Any] = {}
    for name in args.models.split(","):
        runner = ModelRunner.open(models_dir, name, threads=args.threads)
        runner.max_batch = b
        runner.predict(frames[:b])  # warm-up
        one = _median_s(partial(_predict_in_batches, runner, frames, 1), args.rounds)
        many = _median_s(partial(_predict_in_batches, runner, frames, b), args.rounds)
        out[f"visual.{name}"] = _rates(len(frames), one, many)
    guard = VisualGuard(models_dir=models_dir, experts=tuple(args.models.split(",")), threads=args.threads)
    guard.load()
    policies = tuple(load_policy_pack().policy_set("default").policy(p) for p in guard.scored_policies())
    per = 8  # frames per upload, the sampling default
    requests = [GuardRequest(f"u{i}", Frames(frames[i : i + per], tuple(range(per)), tuple(range(per))), policies)
                for i in range(0, len(frames) - per + 1, per)]  # fmt: skip
    guard.score_batch(requests[:1])
    one = _median_s(lambda: [guard.score_batch([r]) for r in requests], args.rounds)
    many = _median_s(lambda: guard.score_batch(requests), args.rounds)
    out["visual"] = {**_rates(per * len(requests), one, many), "uploads_per_call_batched": len(requests)}
    return out


def _predict_in_batches(runner: Any, frames: np.ndarray, batch: int) -> None:
    for i in range(0, len(frames), batch):
        runner.predict(frames[i : i + batch])


def _rates(n: int, one_s: float, many_s: float) -> dict[str, float]:
    return {"frames_per_s_batch1": round(n / one_s, 2), "frames_per_s_batched": round(n / many_s, 2),
            "batched_vs_batch1": round(one_s / many_s, 3)}  # fmt: skip


def ort_vs_torch(args: argparse.Namespace, settings: Any) -> dict[str, Any]:
    """nsfwjs MobileNetV2: converted ONNX model on ORT vs our torch module on the same weights and inputs."""
    import torch

    from guardstream.engines.visual.catalog import MODELS
    from guardstream.engines.visual.keras_torch import build_torch_model
    from guardstream.engines.visual.provision import tarball_path, unpack
    from guardstream.engines.visual.runtime import ModelRunner
    from guardstream.engines.visual.tfjs import read_tfjs_model

    models_dir = _models_dir(settings)
    runner = ModelRunner.open(models_dir, "nsfw", threads=args.threads)
    root = unpack(tarball_path(models_dir), models_dir / "cache" / "nsfwjs-4.4.0")
    tfjs = read_tfjs_model(root / MODELS["nsfw"].package_file)
    torch.set_num_threads(args.threads)
    net = build_torch_model(tfjs.topology, tfjs.weights)
    batch = runner.inputs(_frames(args.batch, seed=1), stream_frames=False)
    out: dict[str, Any] = {"model": "nsfw (MobileNetV2, 224 px)", "threads": args.threads}
    with torch.inference_mode():
        diff = float(np.abs(runner.run(batch) - net(torch.from_numpy(batch)).numpy()).max())
        for label, x in (("batch1", batch[:1]), (f"batch{args.batch}", batch)):
            ort_s, torch_s = _interleaved(partial(runner.run, x), partial(net, torch.from_numpy(x)), args.rounds)
            out[label] = {"ort_ms": round(ort_s * 1e3, 2), "torch_ms": round(torch_s * 1e3, 2),
                          "torch_vs_ort": round(torch_s / ort_s, 3)}  # fmt: skip
    out["max_abs_diff"] = diff
    return out


def _interleaved(a: Callable[[], object], b: Callable[[], object], rounds: int) -> tuple[float, float]:
    a(), b()  # warm-up both
    times_a, times_b = [], []
    for _ in range(max(rounds, 1) * 3):
        times_a.append(_median_s(a, 1))
        times_b.append(_median_s(b, 1))
    return statistics.median(times_a), statistics.median(times_b)


def _cascade(args: argparse.Namespace, settings: Any) -> dict[str, Any]:
    from guardstream.load_tests.cascade_cost import measure_cascade

    return measure_cascade(args)


def _cascade_arguments(parser: argparse.ArgumentParser) -> None:
    from guardstream.load_tests.cascade_cost import add_cascade_arguments

    add_cascade_arguments(parser)


# The measurements of this benchmark, in order: (JSON key, argparse hook or None, measure(args, settings)).
MEASUREMENTS: list[tuple[str, Callable[[argparse.ArgumentParser], None] | None, Measure]] = [
    ("guard_throughput", None, guard_throughput),
    ("ort_vs_torch", None, ort_vs_torch),
    ("cascade_vs_all_guards", _cascade_arguments, _cascade),
]
