"""Labelled evaluation manifests: JSON Lines, one item per line.

Fields: `id` (required, an upload identifier), `uri` (optional image/video, fetched with the stream's limits),
`title` / `description` / `transcript` (optional text), `labels` (required: the policy ids the item violates; []
means benign), `tag` (optional, e.g. harmful / hard_benign / neutral), `group` (optional: items that must stay
on one side of a cross-validation split, e.g. a contrasting pair), `obfuscation` (optional note). Anything else,
a policy id the pack does not know, a duplicate id, or an item with neither uri nor text is an error naming the
line — a manifest is read whole or not at all.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ID_PATTERN = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
TEXT_FIELDS = ("title", "description", "transcript")
KNOWN_FIELDS = frozenset({"id", "uri", "labels", "tag", "group", "obfuscation", *TEXT_FIELDS})
MAX_TEXT_CHARS = 20_000


class ManifestError(ValueError):
    """A manifest that cannot be evaluated; the message names the file and line."""


@dataclass(frozen=True)
class ManifestItem:
    id: str
    labels: frozenset[str]
    tag: str = ""
    uri: str | None = None
    title: str = ""
    description: str = ""
    transcript: str = ""
    group: str = ""

    @property
    def has_text(self) -> bool:
        return any(getattr(self, f).strip() for f in TEXT_FIELDS)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id}
        if self.uri:
            out["uri"] = self.uri
        out.update({f: getattr(self, f) for f in TEXT_FIELDS if getattr(self, f)})
        out["labels"] = sorted(self.labels)
        out.update({k: v for k, v in (("tag", self.tag), ("group", self.group)) if v})
        return out


def parse_line(raw: str, where: str, policies: Collection[str]) -> ManifestItem:
    """One manifest line → an item; ManifestError naming `where` (file:line) and the problem otherwise."""
    try:
        obj = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{where}: not JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(obj, dict):
        raise ManifestError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    unknown = sorted(set(obj) - KNOWN_FIELDS)
    if unknown:
        raise ManifestError(f"{where}: unknown field(s) {unknown}; known: {sorted(KNOWN_FIELDS)}")
    item_id = obj.get("id")
    if not isinstance(item_id, str) or not ID_PATTERN.match(item_id):
        raise ManifestError(f"{where}: 'id' must be 1-128 characters of A-Z a-z 0-9 . _ : -, got {item_id!r}")
    labels = obj.get("labels")
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise ManifestError(f"{where}: 'labels' must be a list of policy ids ([] = benign)")
    bad = sorted(set(labels) - set(policies))
    if bad:
        raise ManifestError(f"{where}: unknown policy id(s) {bad} in 'labels'")
    for key in ("uri", "tag", "group", *TEXT_FIELDS):
        value = obj.get(key)
        if value is not None and not isinstance(value, str):
            raise ManifestError(f"{where}: '{key}' must be a string")
        if isinstance(value, str) and len(value) > MAX_TEXT_CHARS:
            raise ManifestError(f"{where}: '{key}' is longer than {MAX_TEXT_CHARS} characters")
    item = ManifestItem(
        id=item_id, labels=frozenset(labels), tag=obj.get("tag") or "", uri=obj.get("uri") or None,
        title=obj.get("title") or "", description=obj.get("description") or "",
        transcript=obj.get("transcript") or "", group=obj.get("group") or "",
    )  # fmt: skip
    if item.uri is None and not item.has_text:
        raise ManifestError(f"{where}: item {item_id!r} has neither 'uri' nor any text: nothing to score")
    return item


def read_manifest(path: Path, policies: Collection[str]) -> list[ManifestItem]:
    """Every item of the manifest at `path` (blank lines skipped); ManifestError on the first bad line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path}: cannot read ({exc})") from None
    items: list[ManifestItem] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        item = parse_line(raw, f"{path}:{number}", policies)
        if item.id in seen:
            raise ManifestError(f"{path}:{number}: duplicate id {item.id!r} (first on line {seen[item.id]})")
        seen[item.id] = number
        items.append(item)
    if not items:
        raise ManifestError(f"{path}: no items")
    return items


def write_manifest(path: Path, items: list[ManifestItem]) -> None:
    path.write_text("".join(json.dumps(i.to_json(), ensure_ascii=False) + "\n" for i in items), encoding="utf-8")
