"""Bank import formats. Each parser reads a whole file and either returns every entry or raises SignalError
naming the first bad line — so an import is all or nothing.

- `pdq`: one hash per line, `HASH`, `HASH,QUALITY` or `HASH,QUALITY,NAME` (the reference hasher's output);
- `vpdq`: one video, the reference's `frame,quality,hash,timestamp` lines;
- `te-csv`: `threatexchange dataset --csv` (header `signal_type,signal_str,collab,category,tags`; vPDQ
  signal strings are JSON lists of `hash,quality,timestamp`)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass

from guardstream.engines.hashing.base import Signal, SignalError, signal_type
from guardstream.engines.hashing.pdq import PdqSignalType
from guardstream.engines.hashing.vpdq import VpdqFrame, VpdqSignal, VpdqSignalType, parse_line

FORMATS = ("pdq", "vpdq", "te-csv")


@dataclass(frozen=True)
class Imported:
    content_id: str
    signal: Signal
    note: str | None = None


def parse_import(text: str, fmt: str, content_id: str | None = None) -> list[Imported]:
    """Every entry of a bank file in `fmt`; SignalError("line N: …") on the first malformed line."""
    if fmt == "pdq":
        return _pdq_lines(text)
    if fmt == "vpdq":
        signal = VpdqSignalType.parse(text)
        return [Imported(content_id or f"vpdq:{_digest(text)}", signal)]
    if fmt == "te-csv":
        return _te_csv(text)
    raise SignalError(f"unknown import format {fmt!r}; choose from {', '.join(FORMATS)}")


def _pdq_lines(text: str) -> list[Imported]:
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.strip().split(",", 2)
        try:
            signal = PdqSignalType.parse(",".join(parts[:2]))
        except SignalError as exc:
            raise SignalError(f"line {number}: {exc}") from None
        name = parts[2].strip() if len(parts) == 3 and parts[2].strip() else f"pdq:{signal.hash}"
        out.append(Imported(name, signal))
    if not out:
        raise SignalError("no hashes in the file")
    return out


def _te_csv(text: str) -> list[Imported]:
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or not {"signal_type", "signal_str"} <= set(reader.fieldnames):
        raise SignalError("line 1: a ThreatExchange CSV needs the columns signal_type and signal_str")
    out = []
    for row in reader:
        number = reader.line_num
        try:
            signal = _te_signal(row.get("signal_type") or "", row.get("signal_str") or "")
        except (SignalError, ValueError) as exc:
            raise SignalError(f"line {number}: {exc}") from None
        collab = (row.get("collab") or "te").strip() or "te"
        note = " ".join(x for x in ((row.get("category") or "").strip(), (row.get("tags") or "").strip()) if x)
        out.append(Imported(f"te:{collab}:{_digest(row['signal_str'])}", signal, note or None))
    if not out:
        raise SignalError("no rows in the file")
    return out


def _te_signal(kind: str, value: str) -> Signal:
    if kind.strip() == "vpdq":
        items = json.loads(value)
        if not isinstance(items, list) or not items:
            raise SignalError("a vPDQ signal_str is a non-empty JSON list")
        frames = [_te_frame(str(item), n) for n, item in enumerate(items)]
        return VpdqSignal(tuple(frames))
    return signal_type(kind.strip()).parse(value)


def _te_frame(item: str, number: int) -> VpdqFrame:
    parts = item.split(",")
    if len(parts) != 3:
        raise SignalError("a vPDQ feature is hash,quality,timestamp")
    return parse_line(f"{number},{parts[1]},{parts[0]},{parts[2]}", number + 1)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]
