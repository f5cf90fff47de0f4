"""The demo's known content: a bank (`demo-known-scams` → c4.scam, block) holding one synthetic image, and a
re-encoded copy of it uploaded to the stream — decided by the bank match, with no guard called."""

from __future__ import annotations

import io
import json
from pathlib import Path

from PIL import Image

from guardstream.pipeline.demo_data import SyntheticUpload, _event
from guardstream.pipeline.settings import Settings
from guardstream.pipeline.stack import LocalStack

DEMO_BANK = "demo-known-scams"


def reencoded(source: Path, out: Path, quality: int = 70) -> Path:
    """A near-duplicate the way re-uploads are: decoded, shrunk to 90 %, saved again as JPEG."""
    image = Image.open(source).convert("RGB")
    image = image.resize((int(image.width * 0.9), int(image.height * 0.9)))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    out.write_bytes(buffer.getvalue())
    return out


def seed_known_content(
    settings: Settings, stack: LocalStack, uploads: list[SyntheticUpload], run_id: str
) -> list[SyntheticUpload]:
    """Bank the first image upload (a fresh bank version) and return one re-upload of it to stream."""
    from guardstream.operators.banks import BankStore, NewEntry
    from guardstream.pipeline.commands.hash import compute_signal

    original = next(u for u in uploads if u.media_type == "image" and u.media_path is not None)
    assert original.media_path is not None
    store = BankStore(stack.open_lake(), settings.hashing)
    store.ensure_table()
    if DEMO_BANK not in {b.name for b in store.banks()}:
        store.create(DEMO_BANK, "c4.scam", "block")
    signal = compute_signal(str(original.media_path), settings, settings.hashing.bank_seconds_per_hash)
    store.add(DEMO_BANK, [NewEntry(f"{run_id}-reviewed", signal, "demo: reviewed and removed", "known scam")])
    upload_id = f"{run_id}-reupload"
    copy = reencoded(original.media_path, original.media_path.with_name(f"{upload_id}.jpg"))
    payload = json.dumps(_event(upload_id, copy.as_uri(), "image", title="re-upload")).encode()
    return [SyntheticUpload(upload_id, payload, "banked", "image", "verdict", "c4.scam", copy)]
