"""Listings a backfill scans, each streamed (never materialised) in a deterministic order:

- a local folder (recursive, sorted per directory; media files by suffix),
- an object-store prefix `s3://bucket/prefix` (ListObjectsV2, page by page),
- a JSONL manifest of upload events (one event per line, as on the uploads topic),
- a lake query `lake:SELECT upload_id FROM verdicts WHERE …` (DuckDB over the lake; the events come from the
  uploads catalogue that every backfill run keeps in its ledger folder).

A listing that fails part-way yields one entry with the reason (a dead letter) and ends; the run goes on with
what was listed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from guardstream.operators.lake_settings import LakeSettings
from guardstream.operators.objectstore_settings import ObjectStoreSettings
from guardstream.pipeline.backfill.items import Defaults, Listed, manifest_upload_id, media_type_for, object_event

MANIFEST_SUFFIXES = (".jsonl", ".ndjson")


class SourceError(ValueError):
    """SOURCE names nothing a backfill can list."""


@dataclass(frozen=True)
class LakeQuery:
    """Where a lake query runs: the lake's catalog and the folder of backfill ledgers (the uploads catalogue)."""

    settings: LakeSettings
    catalog_uri: str
    warehouse: str
    runs_dir: str


@dataclass(frozen=True)
class ListingSpec:
    """Plain, picklable description of a listing; `entries()` opens and streams it (on any worker)."""

    kind: str  # folder | s3 | manifest | lake
    location: str
    defaults: Defaults = field(default_factory=Defaults)
    store: ObjectStoreSettings | None = None
    lake: LakeQuery | None = None

    def entries(self) -> Iterator[Listed]:
        listers = {"folder": _folder, "s3": _s3, "manifest": _manifest, "lake": _lake}
        return listers[self.kind](self)

    @property
    def media_root(self) -> Path | None:
        """The folder `file://` media must be allowed under (folder listings only)."""
        return Path(self.location) if self.kind == "folder" else None


def parse_source(
    source: str, defaults: Defaults, store: ObjectStoreSettings | None = None, lake: LakeQuery | None = None
) -> ListingSpec:
    """SOURCE → a listing spec; SourceError with the reason when it names nothing listable."""
    if source.startswith("s3://"):
        if store is None:
            raise SourceError("an s3:// source needs an object store (stack up, or GUARDSTREAM_OBJECTSTORE__*)")
        if not source[5:].split("/", 1)[0]:
            raise SourceError("an s3:// source needs a bucket: s3://bucket/prefix")
        return ListingSpec("s3", source, defaults, store=store)
    if source.startswith("lake:"):
        if not source[5:].strip():
            raise SourceError("a lake source needs a query: lake:SELECT upload_id FROM verdicts WHERE …")
        return ListingSpec("lake", source[5:].strip(), defaults, lake=lake)
    path = Path(source.removeprefix("file://")).expanduser()
    if path.is_dir():
        return ListingSpec("folder", str(path.resolve()), defaults)
    if path.is_file() and path.suffix.lower() in MANIFEST_SUFFIXES:
        return ListingSpec("manifest", str(path.resolve()), defaults)
    if path.is_file():
        raise SourceError(f"{source!r} is a file but not a JSONL manifest ({', '.join(MANIFEST_SUFFIXES)})")
    raise SourceError(f"{source!r} is not a folder, a JSONL manifest, an s3:// prefix or a lake: query")


def _failed(reason: str) -> Listed:
    return Listed(b"", error=reason, error_class="ListingError")


def _folder(spec: ListingSpec) -> Iterator[Listed]:
    yield from _walk(Path(spec.location), spec.defaults)


def _walk(folder: Path, defaults: Defaults) -> Iterator[Listed]:
    try:
        with os.scandir(folder) as scan:
            entries = sorted(scan, key=lambda e: e.name)  # one directory at a time, never the whole tree
    except OSError as exc:
        yield _failed(f"cannot list folder: {type(exc).__name__}: {exc.strerror}")
        return
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False):
                yield from _walk(Path(entry.path), defaults)
                continue
            media_type = media_type_for(entry.name)
            if media_type is None or not entry.is_file(follow_symlinks=False):
                continue
            modified_s = entry.stat().st_mtime
        except OSError as exc:  # vanished or unreadable between listing and stat
            yield _failed(f"cannot stat a listed file: {type(exc).__name__}")
            continue
        yield object_event(Path(entry.path).as_uri(), media_type, modified_s, defaults)


def _s3(spec: ListingSpec) -> Iterator[Listed]:
    from guardstream.operators.objectstore import ObjectStoreError, S3Client

    assert spec.store is not None
    bucket, _, prefix = spec.location[5:].partition("/")
    try:
        for info in S3Client(spec.store).list(bucket, prefix):
            media_type = media_type_for(info.key)
            if media_type is not None:
                yield object_event(f"s3://{bucket}/{info.key}", media_type, 0.0, spec.defaults)
    except ObjectStoreError as exc:
        yield _failed(f"object-store listing failed: {exc}")


def _manifest(spec: ListingSpec) -> Iterator[Listed]:
    try:
        with open(spec.location, "rb") as lines:
            for raw in lines:
                line = raw.strip()
                if line:
                    yield Listed(line, manifest_upload_id(line))
    except OSError as exc:
        yield Listed(
            b"", error=f"cannot read manifest: {type(exc).__name__}: {exc.strerror}", error_class="ListingError"
        )


def _lake(spec: ListingSpec) -> Iterator[Listed]:
    from guardstream.operators.lake import Lake

    assert spec.lake is not None
    q = spec.lake
    try:
        con = Lake.open(q.settings, uri=q.catalog_uri, warehouse=q.warehouse).duckdb()
        catalogue = uploads_catalogue(Path(q.runs_dir))
        con.execute(f"CREATE VIEW uploads AS {catalogue}")
        cursor = con.execute(
            f"SELECT any_value(payload) FROM uploads WHERE upload_id IN (SELECT upload_id FROM ({spec.location})) "
            "GROUP BY upload_id ORDER BY upload_id"
        )
        while rows := cursor.fetchmany(512):
            for (payload,) in rows:
                yield Listed(payload.encode(), manifest_upload_id(payload.encode()))
    except Exception as exc:  # a bad query or an unreadable catalogue: one dead letter, the run goes on
        yield Listed(
            b"", error=f"lake query failed: {type(exc).__name__}: {str(exc)[:300]}", error_class="ListingError"
        )


def uploads_catalogue(runs_dir: Path) -> str:
    """SQL for the uploads every backfill listed (upload_id, payload), from the runs' `uploads-*.jsonl` files."""
    files = sorted(str(p) for p in runs_dir.glob("*/uploads-*.jsonl") if p.stat().st_size > 0)
    if not files:
        return "SELECT NULL::VARCHAR AS upload_id, NULL::VARCHAR AS payload WHERE false"
    listed = json.dumps(files).replace('"', "'")
    return f"SELECT upload_id, payload FROM read_json({listed}, columns={{upload_id: 'VARCHAR', payload: 'VARCHAR'}})"
