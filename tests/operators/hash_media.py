"""Synthesized media for the hashing tests: smooth random textures (PDQ quality 100) as JPEG images and as
short H.264 clips panning over the texture, plus near-duplicate edits (re-encode, resize, brightness)."""

from __future__ import annotations

import io
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageEnhance


def texture(seed: int, height: int = 240, width: int = 320) -> np.ndarray:
    """A smooth RGB texture: a few random sinusoids per channel (structure PDQ can see)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    out = np.zeros((height, width, 3))
    for c in range(3):
        for _ in range(6):
            fy, fx, phase = rng.uniform(0.005, 0.05), rng.uniform(0.005, 0.05), rng.uniform(0, 6.3)
            out[..., c] += np.sin(fy * y * 6.3 + fx * x * 6.3 + phase)
    out = (out - out.min()) / (out.max() - out.min())
    return (out * 255).astype(np.uint8)


def write_jpeg(rgb: np.ndarray, path: Path, quality: int = 90) -> Path:
    Image.fromarray(rgb).save(path, format="JPEG", quality=quality)
    return path


def edited(path: Path, out: Path) -> Path:
    """A near-duplicate: brighter, 80 % size, re-encoded at JPEG quality 60."""
    image = ImageEnhance.Brightness(Image.open(path).convert("RGB")).enhance(1.1)
    image = image.resize((int(image.width * 0.8), int(image.height * 0.8)))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=60)
    out.write_bytes(buffer.getvalue())
    return out


def make_texture_clip(
    path: Path, seed: int, frames: int = 48, fps: int = 24, crf: int = 23, scale: float = 1.0
) -> Path:
    """A clip panning across a texture twice the frame width; `crf` / `scale` make re-encoded variants."""
    big = texture(seed, 240, 640)
    width, height = int(320 * scale) // 2 * 2, int(240 * scale) // 2 * 2
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.options = {"crf": str(crf)}
        for i in range(frames):
            crop = np.ascontiguousarray(big[:, i * 6 : i * 6 + 320])
            if scale != 1.0:
                crop = np.asarray(Image.fromarray(crop).resize((width, height)))
            for packet in stream.encode(av.VideoFrame.from_ndarray(crop)):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
