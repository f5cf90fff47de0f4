"""Hash matching: vPDQ agreement with Meta's reference hashes, hashing throughput, and the index vs brute force.

- `vpdq_agreement`: every clip in ../shared/media/video hashed (every frame) in the contained decoder worker,
  compared frame by frame with ../shared/media/vpdq-reference (Hamming distance histogram, shares at 0 and ≤ 2);
  the same for the `vpdq` package's own decoder (`vpdq_binding_agreement`), measured in the same run.
- `throughput`: one clip decoded every frame, hashed at every frame: frames/s, and the share of the time spent
  decoding (a decode-only pass of the same clip is the baseline).
- `index`: N random bank hashes plus planted near-duplicates (0–31 bits flipped); the multi-index-hashing index
  and faiss IndexBinaryFlat (brute force) answer the same range queries at distance ≤ 31 in the same run:
  `index_vs_bruteforce` (queries/s ratio) and `recall_vs_bruteforce` (must be 1.0).
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--media", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "media")
    parser.add_argument("--index-size", type=int, default=1_000_000, help="random bank hashes in the index")
    parser.add_argument("--queries", type=int, default=1000, help="range queries (half planted near-duplicates)")
    parser.add_argument("--radius", type=int, default=31)
    parser.add_argument("--clips", default="", help="comma-separated clip names to hash (default: all)")
    parser.add_argument("--decode-timeout-s", type=float, default=900.0, help="hashing every frame takes a while")
    parser.add_argument("--repeats", type=int, default=2, help="timed repeats per index (best is kept)")


def run(args: argparse.Namespace, settings: Any) -> dict[str, Any]:
    limits = settings.limits.model_copy(update={"decode_timeout_s": args.decode_timeout_s})
    settings = settings.model_copy(update={"limits": limits})
    clips = _clips(args)
    out: dict[str, Any] = {"clips": [c.stem for c in clips]}
    if clips:
        out["vpdq_agreement"] = _agreement(clips, args.media, settings, _worker_hashes)
        out["vpdq_binding_agreement"] = _agreement(clips, args.media, settings, _binding_hashes)
        out["throughput"] = _throughput(max(clips, key=lambda c: c.stat().st_size), settings)
    else:
        out["vpdq_agreement"] = {"skipped": f"no reference media at {args.media}"}
    out["index"] = _index(args)
    out["index_vs_bruteforce"] = out["index"]["index_vs_bruteforce"]
    out["recall_vs_bruteforce"] = out["index"]["recall_vs_bruteforce"]
    return out


def _clips(args: argparse.Namespace) -> list[Path]:
    folder, refs = args.media / "video", args.media / "vpdq-reference"
    clips = sorted(p for p in folder.glob("*.mp4") if (refs / f"{p.stem}.txt").is_file()) if folder.is_dir() else []
    names = {n.strip() for n in args.clips.split(",") if n.strip()}
    return [c for c in clips if c.stem in names] if names else clips


def _worker_hashes(clip: Path, settings: Any) -> list[str]:
    from guardstream.engines.hashing import VpdqSignal
    from guardstream.operators.frames import SampleSpec
    from guardstream.operators.frames.hash_media import hash_media
    from guardstream.operators.frames.hashing import HashRequest

    spec = SampleSpec.from_settings(settings.sampling)
    request = HashRequest(seconds_per_hash=0.0, sample=False)
    result = hash_media(clip, spec, settings.sampling, settings.limits, request, trusted_path=True)
    assert isinstance(result.signal, VpdqSignal)
    return [f.hash for f in result.signal.frames]


def _binding_hashes(clip: Path, settings: Any) -> list[str]:
    import vpdq

    return [f.hex for f in vpdq.computeHash(str(clip), seconds_per_hash=0, thread_count=1)]


def _agreement(clips: list[Path], media: Path, settings: Any, hasher: Any) -> dict[str, Any]:
    from guardstream.engines.hashing.pdq import hamming
    from guardstream.engines.hashing.vpdq import VpdqSignalType

    histogram: Counter[int] = Counter()
    per_clip = {}
    for clip in clips:
        reference = VpdqSignalType.parse((media / "vpdq-reference" / f"{clip.stem}.txt").read_text())
        ours = hasher(clip, settings)
        distances = [hamming(a, b.hash) for a, b in zip(ours, reference.frames, strict=False)]
        histogram.update(distances)
        per_clip[clip.stem] = {
            "frames": len(ours), "reference_frames": len(reference.frames),
            "distance_0_share": round(distances.count(0) / max(1, len(distances)), 4), "max_distance": max(distances),
        }  # fmt: skip
    frames = sum(histogram.values())
    return {
        "frames": frames,
        "distance_0_share": round(histogram[0] / frames, 4),
        "distance_le2_share": round(sum(n for d, n in histogram.items() if d <= 2) / frames, 4),
        "distance_le31_share": round(sum(n for d, n in histogram.items() if d <= 31) / frames, 4),
        "histogram": {str(d): n for d, n in sorted(histogram.items())},
        "per_clip": per_clip,
    }


def _throughput(clip: Path, settings: Any) -> dict[str, Any]:
    from guardstream.operators.frames.hashing import HashRequest, sample_and_hash_local
    from guardstream.operators.frames.probe import open_video
    from guardstream.operators.frames.spec import SampleSpec

    started = time.perf_counter()
    with open_video(clip, "mp4") as container:
        decoded = sum(1 for _ in container.decode(video=0))
    decode_s = time.perf_counter() - started
    spec = SampleSpec.from_settings(settings.sampling)
    started = time.perf_counter()
    media = sample_and_hash_local(clip, spec, settings.sampling, settings.limits, HashRequest(0.0, sample=False))
    total_s = time.perf_counter() - started
    hashed = len((media.signal or {}).get("text", "").splitlines())
    return {
        "clip": clip.stem, "frames_decoded": decoded, "frames_hashed": hashed,
        "hashed_frames_per_s": round(hashed / total_s, 1), "decode_only_frames_per_s": round(decoded / decode_s, 1),
        "decode_share": round(min(1.0, decode_s / total_s), 3),
    }  # fmt: skip


def _planted(rng: np.random.Generator, codes: np.ndarray, count: int, max_bits: int) -> np.ndarray:
    picked = codes[rng.choice(len(codes), count, replace=False)]
    bits = np.unpackbits(picked, axis=1)
    for row in bits:
        row[rng.choice(256, rng.integers(0, max_bits + 1), replace=False)] ^= 1
    return np.packbits(bits, axis=1)


def _index(args: argparse.Namespace) -> dict[str, Any]:
    import faiss

    from guardstream.engines.hashing.index import HashIndex, flat_range_search

    rng = np.random.default_rng(12)
    codes = rng.integers(0, 256, (args.index_size, 32), dtype=np.uint8)
    planted = args.queries // 2
    queries = np.concatenate(
        [_planted(rng, codes, planted, args.radius), rng.integers(0, 256, (args.queries - planted, 32), np.uint8)]
    )
    started = time.perf_counter()
    index = HashIndex(codes)
    build_s = time.perf_counter() - started
    flat = faiss.IndexBinaryFlat(256)
    flat.add(codes)
    index.range_search(queries[:2], args.radius)  # compile / warm
    index_s, got = _best(lambda: index.range_search(queries, args.radius), args.repeats)
    brute_s, want = _best(lambda: flat_range_search(flat, queries, args.radius), args.repeats)
    got_pairs = set(zip(got.query.tolist(), got.entry.tolist(), strict=True))
    want_pairs = set(zip(want.query.tolist(), want.entry.tolist(), strict=True))
    return {
        "bank_hashes": args.index_size, "queries": args.queries, "planted_near_duplicates": planted,
        "radius": args.radius, "build_s": round(build_s, 2), "faiss_threads": faiss.omp_get_max_threads(),
        "index_queries_per_s": round(args.queries / index_s, 1),
        "bruteforce_queries_per_s": round(args.queries / brute_s, 1),
        "index_vs_bruteforce": round(brute_s / index_s, 2),
        "recall_vs_bruteforce": round(len(got_pairs & want_pairs) / max(1, len(want_pairs)), 6),
        "extra_vs_bruteforce": len(got_pairs - want_pairs), "matches": len(want_pairs),
    }  # fmt: skip


def _best(op: Any, repeats: int) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(max(1, repeats)):
        started = time.perf_counter()
        result = op()
        best = min(best, time.perf_counter() - started)
    return best, result
