"""Undo the spellings uploaders use to dodge text filters, before any text is embedded.

Steps, in order: NFKC (full-width and mathematical letters become ASCII), zero-width and soft-hyphen characters
removed, look-alike letters (Cyrillic, Greek) mapped to Latin, letters spaced or punctuated apart
("k i l l", "k.i.l.l", "k-i-l-l") joined, and digits or symbols standing for letters inside a word
("b1tc0in", "k!ll", "fr€e") read as letters. A word made only of digits ("2", "500", "2024") is left alone.
Pure functions; the result is what the guard embeds, never what it quotes.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Container

_ZERO_WIDTH = re.compile("[\u00ad\u180e\u200b-\u200f\u2060-\u2064\ufeff]")
_HOMOGLYPHS = str.maketrans(
    {
        # Cyrillic
        "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c",
        "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i", "ј": "j", "ԁ": "d", "ԛ": "q", "ԝ": "w",
        "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C", "Т": "T",
        "Х": "X", "Ѕ": "S", "І": "I", "Ј": "J", "Ү": "Y",
        # Greek
        "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t",
        "υ": "u", "χ": "x", "ω": "w", "Α": "A", "Β": "B", "Ε": "E", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M",
        "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X", "Ζ": "Z",
        # Latin look-alikes NFKC keeps
        "ı": "i", "ȷ": "j", "ł": "l", "ø": "o", "đ": "d", "ħ": "h",
    }
)  # fmt: skip
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g",
                       "@": "a", "$": "s", "!": "i", "|": "l", "€": "e", "£": "l", "+": "t"})  # fmt: skip
# A run of three or more single letters (or leet digits) split by one separator kind: "k i l l", "k.i.l.l".
_CHAR = r"[\w@$!|€£+]"
_SEP = r"[ .\-_*·•,/]"
_SPACED = re.compile(
    rf"(?<!{_CHAR})(?:{_CHAR}(?P<sep>{_SEP}))(?:{_CHAR}(?P=sep)){{1,}}{_CHAR}(?!{_CHAR}|(?!(?P=sep))[.\-_*·•,/]{_CHAR})"
)
_TOKEN = re.compile(r"[\w@$!|€£+]+")
_LETTER = re.compile(r"[^\W\d_]")
_UNITS = frozenset(
    {"k", "m", "g", "b", "x", "s", "p", "h", "d", "am", "pm", "st", "nd", "rd", "th", "kg", "km", "mm", "cm", "gb",
     "mb", "tb", "ml", "hr", "hrs", "min", "yo", "mph", "fps", "ft", "lb", "lbs"}
)  # fmt: skip
_REPEAT = re.compile(r"([^\W\d_])\1{3,}")


def normalize_for_scoring(text: str, words: Container[str] = frozenset()) -> str:
    """The text as the guard should judge it (see the module docstring). `words` (lower case), when given,
    lets a leading "a" / "I" stay a word of its own when the rest of a spaced-out run is a known word."""
    text = unicodedata.normalize("NFKC", text)
    text = _ZERO_WIDTH.sub("", text).translate(_HOMOGLYPHS)
    text = _SPACED.sub(lambda m: _join_spaced(m, words), text)
    text = _TOKEN.sub(_deleet_token, text)
    return _REPEAT.sub(r"\1\1", text)


def _join_spaced(match: re.Match[str], words: Container[str]) -> str:
    sep = match.group("sep")
    parts = match.group(0).split(sep)
    if sep == " " and sum(len(_LETTER.findall(p)) for p in parts) < 3:
        return match.group(0)  # "a 2 b": not a word spelled apart
    if all(p.isdigit() for p in parts):
        return match.group(0)  # "1.2.3", "10-20-30"
    joined = "".join(parts)
    rest = "".join(parts[1:])
    if sep == " " and parts[0].lower() in ("a", "i") and joined.lower() not in words and rest.lower() in words:
        return f"{parts[0]} {rest}"
    return joined


def _deleet_token(match: re.Match[str]) -> str:
    token = match.group(0)
    if not _LETTER.search(token) or token.isalpha():
        return token
    core = token.rstrip("!").rstrip("$") if token[-1] in "!$" and _LETTER.search(token[:-1]) else token
    if sum(c.isalpha() for c in core) < 2 and not all(c in "0134578@$!" or c.isalpha() for c in core):
        return token
    unit = re.fullmatch(r"\d+([a-zA-Z]{1,3})", core)
    if unit and unit.group(1).lower() in _UNITS:  # "5k", "10am", "3rd", "2x", "1080p"
        return token
    return core.translate(_LEET) + token[len(core) :]
