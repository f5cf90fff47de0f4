"""Synthetic upload generator for the demo, the e2e tests and the stream benchmark.

Writes real media files (PNG / JPEG stills and H.264 MP4 clips with on-screen text, harmful and benign) plus
hostile cases (a corrupt "MP4", a missing file), and the upload events that point at them, including a
malformed event and one that fails the schema. Each item records what must become of it.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HARMFUL_TEXT = (
    ("c4.scam", "Send 1 bitcoin now and get 2 back, guaranteed giveaway"),
    ("c3.threats", "I will find you and kill you tonight"),
    ("c3.self_harm", "Nobody would miss you, just end it tonight"),
    ("c6.hate", "They are vermin, drive them out of our country"),
    ("c4.scam", "Your bank account is locked, enter your password and card number here"),
    ("c5.drugs", "Pills for sale, discreet shipping, message me for prices"),
)
BENIGN_TEXT = (
    "Easy pasta recipe in ten minutes",
    "Warning: fake crypto giveaways are scams, never send money",
    "You are not alone. Call the support line any time, day or night",
    "News report: city council approves new bike lanes",
    "Our cat learns a new trick",
    "Football highlights: last minute winning goal",
)

DEAD_LETTER_KINDS = ("malformed_json", "schema_invalid", "corrupt_media", "missing_media", "unknown_scheme")


@dataclass(frozen=True)
class SyntheticUpload:
    upload_id: str
    payload: bytes  # the message value to produce
    kind: str  # harmful | benign | one of DEAD_LETTER_KINDS
    media_type: str
    expected: str  # "verdict" | "dead_letter"
    target_policy: str | None = None
    media_path: Path | None = None


def render_text_image(text: str, rng: random.Random, size: int = 224) -> np.ndarray:
    from guardstream.engines.text.labelled_set import render_frame

    return render_frame(text, rng, size)


def write_image(path: Path, pixels: np.ndarray) -> Path:
    from PIL import Image

    Image.fromarray(pixels).save(path)
    return path


def write_clip(path: Path, text_frame: np.ndarray, fps: int = 10, seconds: int = 3) -> Path:
    """An H.264 clip: one second of a plain background, then the text frame (with slight motion)."""
    import av

    h, w = text_frame.shape[:2]
    background = np.full_like(text_frame, text_frame[0, 0])
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"g": str(fps * 2), "preset": "ultrafast"}
        for i in range(fps * seconds):
            pixels = background if i < fps else np.roll(text_frame, (i - fps) % 3, axis=1)
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(pixels), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def _event(upload_id: str, uri: str, media_type: str, title: str, tenant: str = "acme") -> dict[str, object]:
    return {
        "upload_id": upload_id,
        "tenant": tenant,
        "surface": "feed",
        "media_uri": uri,
        "media_type": media_type,
        "title": title,
        "created_at": dt.datetime.now(dt.UTC).isoformat(),
    }


def _media_upload(
    folder: Path, run_id: str, n: int, text: str, kind: str, policy: str | None, rng: random.Random
) -> SyntheticUpload:
    upload_id = f"{run_id}-{n:04d}"
    pixels = render_text_image(text, rng)
    if n % 3 == 2:
        path, media_type = write_clip(folder / f"{upload_id}.mp4", pixels), "video"
    else:
        suffix = ".png" if n % 2 else ".jpg"
        path, media_type = write_image(folder / f"{upload_id}{suffix}", pixels), "image"
    payload = json.dumps(_event(upload_id, path.as_uri(), media_type, title="my upload")).encode()
    return SyntheticUpload(upload_id, payload, kind, media_type, "verdict", policy, path)


def _dead_letter_upload(folder: Path, run_id: str, n: int, kind: str) -> SyntheticUpload:
    upload_id = f"{run_id}-{n:04d}"
    if kind == "malformed_json":
        return SyntheticUpload(
            upload_id, b'{"upload_id": "' + upload_id.encode() + b'", oops', kind, "video", "dead_letter"
        )
    if kind == "schema_invalid":
        event = _event(upload_id, (folder / "x.png").as_uri(), "audio", "bad media type")
        return SyntheticUpload(upload_id, json.dumps(event).encode(), kind, "audio", "dead_letter")
    if kind == "corrupt_media":
        path = folder / f"{upload_id}.mp4"
        path.write_bytes(random.Random(n).randbytes(4096))
        event = _event(upload_id, path.as_uri(), "video", "corrupt")
        return SyntheticUpload(upload_id, json.dumps(event).encode(), kind, "video", "dead_letter", media_path=path)
    if kind == "missing_media":
        event = _event(upload_id, (folder / f"{upload_id}-gone.mp4").as_uri(), "video", "missing")
        return SyntheticUpload(upload_id, json.dumps(event).encode(), kind, "video", "dead_letter")
    event = _event(upload_id, f"gopher://example.com/{upload_id}.png", "image", "bad scheme")
    return SyntheticUpload(upload_id, json.dumps(event).encode(), kind, "image", "dead_letter")


def generate_uploads(folder: Path, run_id: str, count: int = 16, seed: int = 7) -> list[SyntheticUpload]:
    """`count` uploads with on-screen text, alternating harmful and benign across images and clips, with every
    hostile kind mixed in (one in eight slots, the rest appended): len(result) >= count."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    hostile = list(DEAD_LETTER_KINDS)
    uploads: list[SyntheticUpload] = []
    for n in range(count):
        if n % 8 == 7 and hostile:
            uploads.append(_dead_letter_upload(folder, run_id, n, hostile.pop(0)))
        elif n % 2 == 0:
            policy, text = HARMFUL_TEXT[(n // 2) % len(HARMFUL_TEXT)]
            uploads.append(_media_upload(folder, run_id, n, text, "harmful", policy, rng))
        else:
            uploads.append(
                _media_upload(folder, run_id, n, BENIGN_TEXT[(n // 2) % len(BENIGN_TEXT)], "benign", None, rng)
            )
    for kind in hostile:  # short runs still get every hostile kind asked for
        uploads.append(_dead_letter_upload(folder, run_id, len(uploads), kind))
    return uploads
