"""Recognise the container from its first bytes, then probe a video's streams and frame table before decoding.

Only containers on an explicit list are opened, and always with the demuxer named: FFmpeg never guesses the
format, so playlists (HLS, concat) that make it open other files or URLs are refused before it sees them.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from guardstream.operators.frames.errors import MediaError
from guardstream.operators.frames.settings import LimitSettings
from guardstream.schemas.dead_letter import Stage

SNIFF_BYTES = 64
# Demuxer names FFmpeg is allowed to use, by sniffed kind.
VIDEO_FORMATS = {"mp4": "mov,mp4,m4a,3gp,3g2,mj2", "matroska": "matroska,webm", "avi": "avi"}
IMAGE_FORMATS = ("jpeg", "png", "gif", "webp")
MP4_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip")
EXTENSIONS = {
    ".mp4": "video", ".m4v": "video", ".mov": "video", ".mkv": "video", ".webm": "video", ".avi": "video",
    ".jpg": "image", ".jpeg": "image", ".png": "image", ".gif": "image", ".webp": "image",
}  # fmt: skip
FFMPEG_OPTIONS = {"protocol_whitelist": "file", "enable_drefs": "0", "probesize": "5000000"}


def sniff(head: bytes) -> tuple[str, str]:
    """(media kind "video"/"image", container) from a file's first bytes; MediaError for anything else."""
    if not head:
        raise MediaError(Stage.PROBE, "empty file")
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"#EXTM3U") or text.startswith(b"ffconcat"):
        raise MediaError(Stage.PROBE, "playlist files (HLS/concat) are refused: they make the demuxer open other files")
    if head[4:8] in MP4_BOXES:
        return "video", "mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video", "matroska"
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return "video", "avi"
    if head.startswith(b"\xff\xd8\xff"):
        return "image", "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image", "png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image", "gif"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image", "webp"
    raise MediaError(Stage.PROBE, "unrecognised container: not MP4/MOV, Matroska/WebM, AVI, JPEG, PNG, GIF or WebP")


def sniff_file(path: Path) -> tuple[str, str]:
    """Sniff `path` and refuse a known extension that disagrees with the content (type confusion)."""
    with path.open("rb") as handle:
        kind, container = sniff(handle.read(SNIFF_BYTES))
    named = EXTENSIONS.get(path.suffix.lower())
    if named is not None and named != kind:
        raise MediaError(Stage.PROBE, f"content is {kind} ({container}) but the name says {path.suffix.lower()}")
    return kind, container


@dataclass(frozen=True)
class VideoProbe:
    """What the demuxer says before any frame is decoded; frames are in presentation order."""

    container: str
    codec: str
    width: int
    height: int
    fps: float
    duration_s: float
    frame_count: int
    timestamps_s: tuple[float, ...] = field(repr=False)
    keyframes: tuple[int, ...] = field(repr=False)
    pts: tuple[int, ...] = field(repr=False)

    def summary(self) -> dict[str, Any]:
        """JSON-friendly facts (no per-frame tables)."""
        info = asdict(self)
        del info["timestamps_s"], info["keyframes"], info["pts"]
        info["keyframe_count"] = len(self.keyframes)
        info["keyframe_interval_s"] = round(self.duration_s / max(1, len(self.keyframes)), 3)
        return info


def check_header(width: int, height: int, duration_s: float, frames: int, limits: LimitSettings) -> None:
    """Refuse by the limits in settings using header values only."""
    if width <= 0 or height <= 0:
        raise MediaError(Stage.PROBE, "no frame dimensions in the header")
    if width * height > limits.max_pixels:
        raise MediaError(Stage.PROBE, f"{width}x{height} pixels per frame > limit {limits.max_pixels}")
    if duration_s > limits.max_duration_s:
        raise MediaError(Stage.PROBE, f"duration {duration_s:.1f} s > limit {limits.max_duration_s:.1f} s")
    if frames > limits.max_frames:
        raise MediaError(Stage.PROBE, f"{frames} frames > limit {limits.max_frames}")


def open_video(path: Path, container_kind: str) -> Any:
    """av.open with the demuxer named explicitly and only the file protocol."""
    import av

    try:
        return av.open(str(path), format=VIDEO_FORMATS[container_kind], options=FFMPEG_OPTIONS)
    except av.FFmpegError as exc:
        raise MediaError(Stage.PROBE, f"container does not open: {type(exc).__name__}") from None


def probe_video(path: Path, container_kind: str, limits: LimitSettings, deadline: float) -> VideoProbe:
    """Header checks, then a demux-only pass (no decoding) for every frame's timestamp and the keyframes."""
    with open_video(path, container_kind) as container:
        if not container.streams.video:
            raise MediaError(Stage.PROBE, "no video stream")
        stream = container.streams.video[0]
        codec = stream.codec_context.name
        if codec not in limits.allowed_video_codecs:
            raise MediaError(Stage.PROBE, f"unsupported codec {codec!r}")
        duration_s = _header_duration_s(container, stream)
        check_header(stream.codec_context.width, stream.codec_context.height, duration_s, stream.frames, limits)
        pts, keys = _frame_table(container, stream, limits, deadline)
        return _build_probe(container_kind, stream, codec, pts, keys, stream.frames)


def _header_duration_s(container: Any, stream: Any) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    return container.duration / 1_000_000 if container.duration else 0.0


def _frame_table(container: Any, stream: Any, limits: LimitSettings, deadline: float) -> tuple[list[int], set[int]]:
    """Every packet's pts (decode order) and the pts of keyframe packets, without decoding."""
    pts: list[int] = []
    keys: set[int] = set()
    try:
        for packet in container.demux(stream):
            if packet.pts is None or packet.size == 0 or packet.is_discard:
                continue
            pts.append(packet.pts)
            if packet.is_keyframe:
                keys.add(packet.pts)
            if len(pts) > limits.max_frames:
                raise MediaError(Stage.PROBE, f"more than {limits.max_frames} frames")
            if len(pts) % 256 == 0 and time.monotonic() > deadline:
                raise MediaError(Stage.PROBE, "probe exceeded the per-upload time limit")
    except MediaError:
        raise
    except Exception as exc:  # a demuxer error on corrupt data
        raise MediaError(Stage.PROBE, f"demux failed: {type(exc).__name__}") from None
    return pts, keys


def _build_probe(
    container_kind: str, stream: Any, codec: str, pts: list[int], keys: set[int], header_frames: int
) -> VideoProbe:
    if not pts:
        raise MediaError(Stage.PROBE, "no video frames")
    if header_frames and len(pts) < header_frames:
        raise MediaError(Stage.PROBE, f"truncated: header lists {header_frames} frames, {len(pts)} present")
    ordered = sorted(set(pts))
    start = ordered[0]
    tb = float(stream.time_base)
    timestamps = tuple(round((p - start) * tb, 6) for p in ordered)
    keyframes = tuple(i for i, p in enumerate(ordered) if p in keys) or (0,)
    fps = float(stream.average_rate) if stream.average_rate else len(ordered) / max(timestamps[-1], 1e-6)
    duration_s = timestamps[-1] + (1.0 / fps if fps else 0.0)
    return VideoProbe(
        container=container_kind,
        codec=codec,
        width=stream.codec_context.width,
        height=stream.codec_context.height,
        fps=round(fps, 6),
        duration_s=round(duration_s, 6),
        frame_count=len(ordered),
        timestamps_s=timestamps,
        keyframes=keyframes,
        pts=tuple(ordered),
    )
