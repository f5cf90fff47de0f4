"""`guardstream sample FILE_OR_URI [--frames N] [--spec …] [--backend …] --json`: sample one file or URI
and print the chosen frames and what they cost. A path named here is trusted as a location (the roots in
settings apply to URIs from upload events); its content is still decoded as untrusted media."""

from __future__ import annotations

import argparse

from guardstream.operators.frames.backends import BACKENDS
from guardstream.operators.frames.samplers import SAMPLERS
from guardstream.pipeline.cli import emit, fail
from guardstream.pipeline.settings import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("sample", help="sample frames from one video or image and print them as JSON")
    parser.add_argument("source", metavar="FILE_OR_URI")
    parser.add_argument("--frames", type=int, default=None, help="frames to keep (uniform/keyframe specs)")
    parser.add_argument("--spec", choices=sorted(SAMPLERS), default=None)
    parser.add_argument("--fps", type=float, default=None, help="frames per second for --spec fps")
    parser.add_argument("--backend", choices=sorted(BACKENDS), default=None)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from guardstream.operators.frames import MediaError, SampleSpec, sample_media

    if args.frames is not None and args.frames < 1:
        return fail("--frames must be >= 1", args.json)
    sampling = settings.sampling
    if args.backend:
        sampling = sampling.model_copy(update={"backend": args.backend})
    spec = SampleSpec.from_settings(sampling, kind=args.spec, frames=args.frames, fps=args.fps)
    try:
        result = sample_media(args.source, spec, sampling, settings.limits, trusted_path=True)
    except MediaError as exc:
        return fail(f"{exc.stage.value}: {exc.reason}", args.json)
    except Exception as exc:  # no traceback for a user: one line with the error class
        return fail(f"internal: {type(exc).__name__}: {exc}", args.json)
    emit(result.to_json(), args.json)
    return 0
