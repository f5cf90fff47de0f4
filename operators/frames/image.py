"""Images (JPEG, PNG, WebP, first frame of a GIF) with Pillow's decompression-bomb limits applied."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from guardstream.operators.frames.errors import MediaError
from guardstream.operators.frames.settings import LimitSettings
from guardstream.schemas.dead_letter import Stage

PILLOW_FORMATS = ("JPEG", "PNG", "GIF", "WEBP")


def load_image(path: Path, limits: LimitSettings) -> tuple[np.ndarray, dict[str, object]]:
    """(RGB uint8 array, probe facts); pixel count checked from the header before any pixel is decoded."""
    Image.MAX_IMAGE_PIXELS = limits.max_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path, formats=PILLOW_FORMATS) as image:
                width, height = image.size
                if width * height > limits.max_pixels:
                    raise MediaError(Stage.PROBE, f"{width}x{height} pixels > limit {limits.max_pixels}")
                fmt = image.format or "unknown"
                image.seek(0)
                rgb = np.asarray(image.convert("RGB"))
    except MediaError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise MediaError(Stage.PROBE, f"decompression bomb refused: {exc}") from None
    except Exception as exc:  # truncated or corrupt image data
        raise MediaError(Stage.DECODE, f"image does not decode: {type(exc).__name__}") from None
    return rgb, {"container": fmt.lower(), "width": width, "height": height}
