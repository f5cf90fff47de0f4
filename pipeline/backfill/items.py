"""What a listing yields: one upload event per stored object (or manifest line), or a reason it could not be read.

A stored object's upload id is derived from its object key alone (`obj:` + SHA-256 of the URI), so the same
file scanned by any run, under any policy version, is the same upload; its event is deterministic (created_at is
the object's modification time) so a dead letter's payload digest is stable too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import PurePosixPath

VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi"})
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp"})
MEDIA_SUFFIXES = VIDEO_SUFFIXES | IMAGE_SUFFIXES


@dataclass(frozen=True)
class Listed:
    """One listing entry: the upload event bytes to moderate, or (payload empty) why the entry is unreadable."""

    payload: bytes
    upload_id: str | None = None
    error: str | None = None
    error_class: str = "ListingError"


@dataclass(frozen=True)
class Defaults:
    """The event fields a listing cannot know from the object: where the upload lives."""

    tenant: str = "backfill"
    surface: str = "archive"
    region: str = "ZZ"


def upload_id_for(uri: str) -> str:
    """Stable upload id of a stored object: the same key always gives the same id."""
    return "obj:" + hashlib.sha256(uri.encode()).hexdigest()[:32]


def media_type_for(key: str) -> str | None:
    """`video` / `image` from the key's suffix; None for anything else (not media)."""
    suffix = PurePosixPath(key).suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        return "video"
    return "image" if suffix in IMAGE_SUFFIXES else None


def object_event(uri: str, media_type: str, modified_s: float, defaults: Defaults) -> Listed:
    """The upload event for one stored object (compact JSON, keys sorted: the same object → the same bytes)."""
    upload_id = upload_id_for(uri)
    event = {
        "upload_id": upload_id,
        "tenant": defaults.tenant,
        "surface": defaults.surface,
        "region": defaults.region,
        "media_uri": uri,
        "media_type": media_type,
        "created_at": dt.datetime.fromtimestamp(int(modified_s), dt.UTC).isoformat(),
    }
    return Listed(json.dumps(event, sort_keys=True, separators=(",", ":")).encode(), upload_id)


def manifest_upload_id(line: bytes) -> str | None:
    """The upload id a manifest line names, when it is a JSON object with one (validation happens downstream)."""
    try:
        data = json.loads(line)
    except (ValueError, RecursionError):
        return None
    value = data.get("upload_id") if isinstance(data, dict) else None
    return value if isinstance(value, str) else None
