"""The demo's known content: a bank (`demo-known-scams` → c4.scam, block) holding one synthetic image, and a
re-encoded copy of it uploaded to the stream — decided by the bank match, with no guard called."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
from PIL import Image

from guardstream.pipeline.demo_data import SyntheticUpload, _event
from guardstream.pipeline.settings import Settings
from guardstream.pipeline.stack import LocalStack

DEMO_BANK = "demo-known-scams"


def reencoded(source: Path, out: Path, quality: int = 80) -> Path:
    """A near-duplicate the way re-uploads are: decoded, shrunk to 95 %, saved again as JPEG."""
    image = Image.open(source).convert("RGB")
    image = image.resize((int(image.width * 0.95), int(image.height * 0.95)))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    out.write_bytes(buffer.getvalue())
    return out


def reviewed_image(seed: int, height: int = 240, width: int = 320) -> np.ndarray:
    """A photo-like synthetic image (smooth random structure: PDQ quality 100) standing in for reviewed content."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    out = np.zeros((height, width, 3))
    for channel in range(3):
        for _ in range(6):
            fy, fx, phase = rng.uniform(0.005, 0.05), rng.uniform(0.005, 0.05), rng.uniform(0, 6.3)
            out[..., channel] += np.sin(6.3 * (fy * y + fx * x) + phase)
    out = (out - out.min()) / (out.max() - out.min())
    pixels: np.ndarray = (out * 255).astype(np.uint8)
    return pixels


def seed_known_content(settings: Settings, stack: LocalStack, folder: Path, run_id: str) -> list[SyntheticUpload]:
    """Bank a reviewed image (a fresh bank version; the image itself is not streamed) and return one re-encoded
    re-upload of it to stream."""
    import random

    from guardstream.operators.banks import BankStore, NewEntry
    from guardstream.pipeline.commands.hash import compute_signal
    from guardstream.pipeline.demo_data import write_image

    original = write_image(folder / f"{run_id}-reviewed.png", reviewed_image(random.Random(run_id).randrange(2**32)))
    store = BankStore(stack.open_lake(), settings.hashing)
    store.ensure_table()
    if DEMO_BANK not in {b.name for b in store.banks()}:
        store.create(DEMO_BANK, "c4.scam", "block")
    signal = compute_signal(str(original), settings, settings.hashing.bank_seconds_per_hash)
    store.add(DEMO_BANK, [NewEntry(f"{run_id}-reviewed", signal, "demo: reviewed and removed", "known scam")])
    upload_id = f"{run_id}-reupload"
    copy = reencoded(original, folder / f"{upload_id}.jpg")
    payload = json.dumps(_event(upload_id, copy.as_uri(), "image", title="re-upload")).encode()
    return [SyntheticUpload(upload_id, payload, "banked", "image", "verdict", "c4.scam", copy)]
