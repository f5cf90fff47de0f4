"""Frame decoding: three backends and the ffmpeg CLI selecting the same frames; decoded÷used, memory, isolation.

For each clip (../shared/media/video when present, plus a synthesized 1080p 60 s clip with a 10 s keyframe
interval, cached under results/) and each spec, the frame indices are chosen once; every backend decodes them
in a fresh isolated worker (its in-worker time is compared), and the ffmpeg CLI produces the same frames,
resized and padded the same way, both by one decode-everything `select` pass and by one accurate-seek process
per frame; the faster of the two is the baseline. Isolation overhead = isolated round trip − in-process call.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

SYNTH_NAME = "synth-1080p-60s-gop10s.mp4"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--frames", type=int, default=8, help="frames per uniform/keyframe spec")
    parser.add_argument("--specs", default="uniform,keyframe,fps", help="comma-separated specs")
    parser.add_argument("--backends", default="pyav,decord,torchcodec")
    parser.add_argument("--cache", type=Path, default=Path("results") / "bench_frames_cache")
    parser.add_argument("--media", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "media")
    parser.add_argument("--no-synth", action="store_true", help="skip the synthesized 1080p clip")
    parser.add_argument("--repeats", type=int, default=2, help="isolation-overhead repeats (min is kept)")
    parser.add_argument(
        "--keyframe-tolerance-s", type=float, default=10.0,
        help="snap tolerance for the keyframe spec (10 s = the synthesized clip's keyframe interval)",
    )  # fmt: skip


def run(args: argparse.Namespace, settings: Any) -> dict[str, Any]:
    from guardstream.operators.frames.spec import SampleSpec

    clips = _clips(args)
    sampling = settings.sampling.model_copy(
        update={"frames": args.frames, "keyframe_tolerance_s": args.keyframe_tolerance_s}
    )
    specs = [SampleSpec.from_settings(sampling, kind=k) for k in args.specs.split(",")]
    results = [row for clip in clips for spec in specs for row in _bench_clip_spec(clip, spec, args, settings)]
    return {
        "default_backend": settings.sampling.backend,
        "clips": [c.name for c in clips],
        "results": results,
        "isolation": [_isolation(clip, specs[0], settings, args.repeats) for clip in clips],
        "targets": _targets(results, settings.sampling.backend),
        "cpu_count": os.cpu_count(),
    }


def _clips(args: argparse.Namespace) -> list[Path]:
    clips = sorted((args.media / "video").glob("*.mp4")) if (args.media / "video").is_dir() else []
    if not args.no_synth:
        clips.append(_synth_clip(args.cache))
    return clips


def _synth_clip(cache: Path) -> Path:
    """1920x1080, 30 fps, 60 s, a keyframe every 300 frames (10 s), H.264; generated once and cached."""
    path = cache / SYNTH_NAME
    if not path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        source = "testsrc2=size=1920x1080:rate=30:duration=60"
        x264 = ["-c:v", "libx264", "-preset", "veryfast", "-g", "300", "-keyint_min", "300", "-sc_threshold", "0"]
        cmd = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", source, *x264, "-pix_fmt", "yuv420p"]
        subprocess.run([*cmd, str(path.with_suffix(".tmp.mp4"))], check=True)
        path.with_suffix(".tmp.mp4").rename(path)
    return path


def _plan(clip: Path, spec: Any, settings: Any) -> tuple[list[int], list[float], float]:
    """(indices, their timestamps, fps) exactly as the sampler chooses them."""
    from guardstream.operators.frames.local import sample_local

    result = sample_local(clip, spec, settings.sampling.model_copy(update={"backend": "pyav"}), settings.limits)
    return list(result.frames.indices), list(result.frames.timestamps_s), float(result.probe["fps"])


def _bench_clip_spec(clip: Path, spec: Any, args: argparse.Namespace, settings: Any) -> list[dict[str, Any]]:
    indices, timestamps, fps = _plan(clip, spec, settings)
    ffmpeg = _ffmpeg(clip, indices, timestamps, fps, settings.sampling.frame_size)
    rows = []
    for backend in args.backends.split(","):
        row = _bench_backend(clip, spec, backend, settings)
        assert row.pop("indices") == indices, f"{backend} chose different frames"
        row["time_vs_ffmpeg"] = round(row["time_s"] / ffmpeg["time_s"], 3)
        rows.append(row)
    rows.append({"clip": clip.name, "backend": "ffmpeg-cli", "spec": spec.kind, "time_vs_ffmpeg": 1.0,
                 "decoded_per_used": None, **ffmpeg})  # fmt: skip
    return rows


def _bench_backend(clip: Path, spec: Any, backend: str, settings: Any) -> dict[str, Any]:
    from guardstream.operators.frames.worker import IsolatedDecoder

    sampling = settings.sampling.model_copy(update={"backend": backend})
    decoder = IsolatedDecoder(settings.limits, recycle_after=10, backends=(backend,))
    try:
        started = time.perf_counter()
        result = decoder.sample(clip, spec, sampling)
        wall_s = time.perf_counter() - started
    finally:
        decoder.close()
    return {
        "clip": clip.name,
        "backend": backend,
        "spec": spec.kind,
        "time_s": round(result.decode_s, 4),
        "isolated_wall_s": round(wall_s, 4),
        "frames_decoded": result.frames_decoded,
        "frames_used": result.frames_used,
        "decoded_per_used": round(result.decoded_per_used, 3),
        "peak_rss_mb": round(decoder.last_peak_rss_mb, 1),
        "indices": list(result.frames.indices),
    }


def _ffmpeg(clip: Path, indices: list[int], timestamps: list[float], fps: float, size: int) -> dict[str, Any]:
    """The ffmpeg CLI producing the same frames (resized + padded to `size`): the faster of two strategies."""
    scale = f"scale={size}:{size}:force_original_aspect_ratio=decrease,pad={size}:{size}:(ow-iw)/2:(oh-ih)/2"
    out = ["-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    select = "+".join(f"eq(n\\,{i})" for i in indices)
    one = _timed(["ffmpeg", "-v", "error", "-i", str(clip), "-vf", f"select='{select}',{scale}", "-fps_mode",
                  "passthrough", *out])  # fmt: skip
    seeks = [_timed(_seek_command(clip, max(0.0, t - 0.25 / fps), scale, out)) for t in timestamps]
    frame_bytes = size * size * 3
    assert one["bytes"] == frame_bytes * len(indices), "ffmpeg select produced a different number of frames"
    seek_s = sum(s["time_s"] for s in seeks)
    return {
        "time_s": round(min(one["time_s"], seek_s), 4),
        "ffmpeg_select_s": round(one["time_s"], 4),
        "ffmpeg_seek_per_frame_s": round(seek_s, 4),
        "peak_rss_mb": round(max([one["peak_rss_mb"], *(s["peak_rss_mb"] for s in seeks)]), 1),
    }


def _seek_command(clip: Path, at_s: float, scale: str, out: list[str]) -> list[str]:
    """ffmpeg input seeking (accurate: from the keyframe before, discarding frames before `at_s`)."""
    return ["ffmpeg", "-v", "error", "-ss", f"{at_s:.6f}", "-i", str(clip), "-frames:v", "1", "-vf", scale, *out]


def _timed(cmd: list[str]) -> dict[str, Any]:
    """Run `cmd`, drain stdout, poll its peak RSS (VmHWM: after exec, unlike ru_maxrss)."""
    from guardstream.operators.frames.worker import proc_status_mb

    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    sizes: list[int] = []
    stdout = proc.stdout
    assert stdout is not None  # stdout=PIPE
    reader = threading.Thread(target=lambda: sizes.extend(len(c) for c in iter(lambda: stdout.read(1 << 20), b"")))
    reader.start()
    peak_mb = 0.0
    while proc.poll() is None:
        peak_mb = max(peak_mb, proc_status_mb(proc.pid, "VmHWM"))
        time.sleep(0.005)
    reader.join()
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg failed ({proc.returncode}): {' '.join(cmd[:6])}…")
    return {"time_s": elapsed, "bytes": sum(sizes), "peak_rss_mb": peak_mb}


def _isolation(clip: Path, spec: Any, settings: Any, repeats: int) -> dict[str, Any]:
    """PyAV in this process vs the same call through a warm isolated worker (min of `repeats`)."""
    from guardstream.operators.frames.local import sample_local
    from guardstream.operators.frames.worker import IsolatedDecoder

    sampling = settings.sampling.model_copy(update={"backend": "pyav"})
    decoder = IsolatedDecoder(settings.limits, recycle_after=repeats + 2)
    try:
        started = time.perf_counter()
        decoder.sample(clip, spec, sampling)  # starts the worker
        first_s = time.perf_counter() - started
        in_process = min(_wall(lambda: sample_local(clip, spec, sampling, settings.limits)) for _ in range(repeats))
        isolated = min(_wall(lambda: decoder.sample(clip, spec, sampling)) for _ in range(repeats))
    finally:
        decoder.close()
    return {
        "clip": clip.name,
        "spec": spec.kind,
        "in_process_s": round(in_process, 4),
        "isolated_s": round(isolated, 4),
        "overhead_ms": round((isolated - in_process) * 1000, 1),
        "isolated_vs_in_process": round(isolated / in_process, 3),
        "first_call_with_worker_start_s": round(first_s, 3),
    }


def _wall(call: Any) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def _targets(results: list[dict[str, Any]], default_backend: str) -> dict[str, Any]:
    keyframe = [r["decoded_per_used"] for r in results if r["spec"] == "keyframe" and r["decoded_per_used"]]
    default = [r["time_vs_ffmpeg"] for r in results if r["backend"] == default_backend]
    kf_max = max(keyframe, default=None)
    default_max = max(default, default=None)
    return {
        "keyframe_decoded_per_used_max": kf_max,
        "keyframe_decoded_per_used_target": 2.0,
        "keyframe_target_met": kf_max is not None and kf_max <= 2.0,
        "default_backend_time_vs_ffmpeg_max": default_max,
        "default_backend_time_vs_ffmpeg_target": 1.2,
        "default_backend_target_met": default_max is not None and default_max <= 1.2,
    }
