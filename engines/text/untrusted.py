"""Text from frames, titles and descriptions is untrusted: normalise it, cap its length, never log it."""

from __future__ import annotations

import re
import unicodedata

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# Zero-width characters split words without showing: removed (not turned into spaces) so "f\u200bor" stays "for".
_ZERO_WIDTH = re.compile("[\u00ad\u200b-\u200d\u2060-\u2064\ufeff]")
_SPACE = re.compile(r"\s+")
_KEY_DROP = re.compile(r"[^\w ]+")


def clean_text(text: str, max_chars: int) -> str:
    """NFKC-normalise, drop control and bidi-override characters, collapse whitespace, cap at `max_chars`."""
    text = unicodedata.normalize("NFKC", text[: max_chars * 4])
    text = _SPACE.sub(" ", _CONTROL.sub(" ", _ZERO_WIDTH.sub("", text))).strip()
    return text[:max_chars]


def dedup_key(text: str) -> str:
    """Key under which two readings of the same on-screen text collide (case, punctuation, spacing)."""
    return _SPACE.sub(" ", _KEY_DROP.sub(" ", text.lower())).strip()


def quote(text: str, max_chars: int) -> str:
    """A span fit to quote inside an explanation: cleaned, shortened with an ellipsis, double quotes swapped."""
    text = clean_text(text, max_chars * 2).replace('"', "'")
    return text if len(text) <= max_chars else text[: max_chars - 1].rstrip() + "…"
