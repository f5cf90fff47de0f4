"""Synthesized media for the frames tests: small clips whose frame number is burned into the pixels as an
8-bit bar code, so a decoded frame's identity can be read back whatever the backend."""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Sequence
from pathlib import Path

import av
import numpy as np

WIDTH, HEIGHT = 320, 240
BAR_TOP, BAR_BOTTOM, BAR_W = 160, 200, 40
SHARED_MEDIA = Path(
    os.environ.get("GUARDSTREAM_SHARED_MEDIA", Path(__file__).resolve().parents[2].parent / "shared" / "media")
)


def frame_pixels(i: int, shade: int | None = None) -> np.ndarray:
    """An RGB frame that encodes `i` in eight black/white blocks; `shade` sets the background."""
    img = np.full((HEIGHT, WIDTH, 3), 60 if shade is None else shade, np.uint8)
    if shade is None:
        img[:BAR_TOP, :, 1] = (i * 7) % 256
    for bit in range(8):
        img[BAR_TOP:BAR_BOTTOM, bit * BAR_W : (bit + 1) * BAR_W] = 255 if (i >> bit) & 1 else 0
    return img


def read_code(rgb: np.ndarray) -> int:
    """The frame number from a full-resolution decoded frame."""
    y = (BAR_TOP + BAR_BOTTOM) // 2
    return sum(1 << bit for bit in range(8) if rgb[y, bit * BAR_W + BAR_W // 2].mean() > 128)


def make_clip(
    path: Path, frames: int = 100, fps: int = 25, gop: int = 25, codec: str = "libx264",
    shots: Sequence[int] = (),
) -> Path:  # fmt: skip
    """Encode a clip; `shots` lists frame numbers where the background brightness jumps (a cut) and where a
    keyframe is forced, as encoders with scene-cut detection do."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.codec_context.gop_size = gop
        if codec == "libx264":
            stream.codec_context.options = {"sc_threshold": "0", "bf": "2"}
        shades = (20, 230, 120, 180, 60)
        for i in range(frames):
            shot = sum(1 for s in shots if s <= i)
            frame = av.VideoFrame.from_ndarray(frame_pixels(i, shades[shot % len(shades)] if shots else None))
            if i in shots:
                frame.pict_type = av.video.frame.PictureType.I
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def png_header(width: int, height: int) -> bytes:
    """A valid PNG header (IHDR) claiming width × height, followed by a few bytes of compressed data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
