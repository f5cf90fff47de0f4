"""`guardstream hash FILE_OR_URI [--seconds-per-hash S] --json`: the PDQ (image) or vPDQ (video) signal of one
file, computed in the contained decoder worker under the same limits and refusals as the stream. A path named
here is trusted as a location; its content is still decoded as untrusted media."""

from __future__ import annotations

import argparse

from guardstream.engines.hashing import Signal
from guardstream.pipeline.cli import emit, fail
from guardstream.pipeline.settings import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("hash", help="print the PDQ / vPDQ signal of one image or video as JSON")
    parser.add_argument("source", metavar="FILE_OR_URI")
    parser.add_argument("--seconds-per-hash", type=float, default=None, help="vPDQ frame interval (0: every frame)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=run)


def compute_signal(source: str, settings: Settings, seconds_per_hash: float) -> Signal:
    """Fetch and hash `source` (hash only: no guard frames). MediaError for every refusal."""
    from guardstream.operators.frames import MediaError, SampleSpec
    from guardstream.operators.frames.hash_media import hash_media
    from guardstream.operators.frames.hashing import HashRequest
    from guardstream.schemas.dead_letter import Stage

    spec = SampleSpec.from_settings(settings.sampling)
    request = HashRequest(seconds_per_hash=seconds_per_hash, sample=False)
    result = hash_media(source, spec, settings.sampling, settings.limits, request, trusted_path=True)
    if result.signal is None:
        raise MediaError(Stage.DECODE, "no signal computed")
    return result.signal


def run(args: argparse.Namespace, settings: Settings) -> int:
    from guardstream.operators.frames import MediaError

    if args.seconds_per_hash is not None and args.seconds_per_hash < 0:
        return fail("--seconds-per-hash must be >= 0", args.json)
    interval = settings.hashing.seconds_per_hash if args.seconds_per_hash is None else args.seconds_per_hash
    try:
        signal = compute_signal(args.source, settings, interval)
    except MediaError as exc:
        return fail(f"{exc.stage.value}: {exc.reason}", args.json)
    emit(signal.to_json(), args.json)
    return 0
