"""Build compiled engines ahead of serving (`make setup` runs the first line; guards otherwise build on first use):

    python -m guardstream.engines.compile build [--models-dir DIR]
    python -m guardstream.engines.compile build --checkpoint CKPT [--frame-edge 448 --height 252]  # + vision tower

Prints one JSON object: each target's file and verified max abs error, or why it stayed on torch; exit 1 if any
requested target could not be built.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from guardstream.engines.compile.settings import CompileSettings


def _minilm(settings: CompileSettings) -> dict[str, Any]:
    from guardstream.engines.text.embed import Embedder

    embedder = Embedder(compile_settings=settings)
    embedder.load()
    return {"target": "minilm", "runtime": embedder.runtime}


def _vision(settings: CompileSettings, checkpoint: Path, height: int, width: int, edge: int) -> dict[str, Any]:
    import numpy as np

    from guardstream.engines.compile.hooks import video_encoder
    from guardstream.engines.safewatch.families import load_backbone
    from guardstream.engines.safewatch.patchify import prepare_video

    backbone = load_backbone(checkpoint)
    encoder = video_encoder(backbone, settings)
    if encoder is None:
        return {"target": "vision", "runtime": "torch", "family": backbone.family}
    video = prepare_video(np.zeros((2, height, width, 3), np.uint8), (0.0, 1.0), backbone.vision, edge)
    encoder(video.patches, video.grid_thw)
    grid = (video.grid_thw[1], video.grid_thw[2])
    return {"target": "vision", "grid": list(grid), "runtime": encoder.runtime(grid)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m guardstream.engines.compile", description=__doc__)
    parser.add_argument("command", choices=["build"])
    parser.add_argument("--models-dir", type=Path, default=CompileSettings().models_dir)
    parser.add_argument("--checkpoint", type=Path, help="also the SafeWatch vision tower of this checkpoint")
    parser.add_argument("--frame-edge", type=int, default=448, help="the guard's max_frame_edge")
    parser.add_argument("--height", type=int, default=252, help="frame size whose grid to build (e.g. 16:9 → 448×252)")
    parser.add_argument("--width", type=int, default=448)
    args = parser.parse_args(argv)
    settings = CompileSettings(models_dir=args.models_dir)
    built = [_minilm(settings)]
    if args.checkpoint is not None:
        built.append(_vision(settings, args.checkpoint, args.height, args.width, args.frame_edge))
    print(json.dumps({"models_dir": str(args.models_dir), "built": built}))
    return 0 if all(b["runtime"] == "onnxruntime" for b in built) else 1


if __name__ == "__main__":
    raise SystemExit(main())
