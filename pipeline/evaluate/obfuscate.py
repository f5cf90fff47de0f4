"""Write an obfuscated copy of a manifest: the spellings uploaders use to dodge filters, applied to every item's
title and description (harmful and benign alike, so false positives are measured too). Deterministic per item.

    python -m guardstream.pipeline.evaluate.obfuscate IN.jsonl OUT.jsonl
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
from collections.abc import Callable
from pathlib import Path

_LEET = {"a": "4", "e": "3", "i": "1", "o": "0", "s": "5", "t": "7"}
_CYRILLIC = {"a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "x": "х", "y": "у", "i": "і", "s": "ѕ"}
_ZERO_WIDTH = ("\u200b", "\u200c", "\u200d", "\u2060")
_SEPARATORS = (" ", ".", "-", "*")


def leet(word: str, rng: random.Random) -> str:
    return "".join(_LEET.get(c.lower(), c) if rng.random() < 0.7 else c for c in word)


def homoglyph(word: str, rng: random.Random) -> str:
    return "".join(_CYRILLIC.get(c, c) if rng.random() < 0.8 else c for c in word)


def zero_width(word: str, rng: random.Random) -> str:
    return "".join(c + (rng.choice(_ZERO_WIDTH) if i < len(word) - 1 else "") for i, c in enumerate(word))


def spaced(word: str, rng: random.Random) -> str:
    return rng.choice(_SEPARATORS).join(word)


TRANSFORMS: dict[str, Callable[[str, random.Random], str]] = {
    "leet": leet, "homoglyph": homoglyph, "zero_width": zero_width, "spaced": spaced,
}  # fmt: skip


def obfuscate_text(text: str, rng: random.Random, kinds: list[str], share: float = 0.5) -> str:
    """Obfuscate about `share` of the words of four or more letters with one of `kinds` each."""
    words = text.split(" ")
    out = []
    for word in words:
        core = word.rstrip(".,!?:;)")
        if len(core) >= 4 and core.isascii() and core.isalpha() and rng.random() < share:
            word = TRANSFORMS[rng.choice(kinds)](core, rng) + word[len(core) :]
        out.append(word)
    return " ".join(out)


def obfuscate_item(item: dict[str, object]) -> dict[str, object]:
    seed = int(hashlib.sha256(str(item["id"]).encode()).hexdigest()[:8], 16)
    rng = random.Random(seed)
    kinds = rng.sample(sorted(TRANSFORMS), 2)
    out = dict(item)
    out["id"] = f"{item['id']}-obf"
    for field in ("title", "description", "transcript"):
        if isinstance(item.get(field), str) and item[field]:
            out[field] = obfuscate_text(str(item[field]), rng, kinds)
    out["obfuscation"] = kinds
    return out


def main(argv: list[str]) -> int:
    source, target = Path(argv[0]), Path(argv[1])
    lines = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    target.write_text("".join(json.dumps(obfuscate_item(i), ensure_ascii=False) + "\n" for i in lines), "utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
