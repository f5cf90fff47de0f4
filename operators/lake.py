"""The Iceberg lake: a day-partitioned verdicts table written by idempotent upsert, and a dead-letters table.

Replays never duplicate a row nor change a committed verdict: rows are inserted only when their
idempotency key is absent (upsert with `when_matched_update_all=False`); commits retry on conflict, and writes
wait out a restarting object store (bounded by `lake.outage_retry_s`).
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import pyarrow as pa
import structlog
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.exceptions import CommitFailedException, NamespaceAlreadyExistsError, TableAlreadyExistsError
from pyiceberg.expressions import In
from pyiceberg.transforms import DayTransform

from guardstream.schemas.arrow import DEAD_LETTER_ARROW, VERDICT_ARROW, to_arrow
from guardstream.schemas.dead_letter import DeadLetter
from guardstream.schemas.verdict import Verdict

if TYPE_CHECKING:
    from pyiceberg.table import Table

    from guardstream.operators.lake_settings import LakeSettings

log = structlog.get_logger(__name__)
T = TypeVar("T")

VERDICT_KEY = "idempotency_key"
# pyiceberg's own commit retry re-applies the same data files onto the newer snapshot, which would insert a
# row that a concurrent writer committed meanwhile. Upserts must instead be recomputed from the new
# snapshot, so both tables disable it and `Lake._retry` re-runs the whole upsert.
VERDICTS_PROPERTIES = {"commit.retry.num-retries": "0"}
DEAD_LETTER_KEY = "dead_letter_id"


class LakeWriteError(RuntimeError):
    """A lake write failed after every retry."""


@dataclass
class WriteResult:
    rows_inserted: int
    attempts: int


class Lake:
    """Handle on the catalog and the two tables. Cheap to create; open one per worker."""

    def __init__(self, catalog: SqlCatalog, settings: LakeSettings) -> None:
        self.catalog = catalog
        self.settings = settings

    @classmethod
    def open(cls, settings: LakeSettings, uri: str, warehouse: str) -> Lake:
        """`settings.store` supplies the S3 FileIO properties of an s3:// warehouse."""
        io = settings.store.pyiceberg_properties() if settings.store is not None else {}
        catalog = SqlCatalog(settings.catalog_name, uri=uri, warehouse=warehouse, **io)
        return cls(catalog, settings)

    @property
    def verdicts_id(self) -> str:
        return f"{self.settings.namespace}.{self.settings.verdicts_table}"

    @property
    def dead_letters_id(self) -> str:
        return f"{self.settings.namespace}.{self.settings.dead_letters_table}"

    def ensure_tables(self) -> None:
        """Create the namespace and both tables if absent (idempotent, safe to race)."""
        with contextlib.suppress(NamespaceAlreadyExistsError):
            self.catalog.create_namespace(self.settings.namespace)
        self._ensure_table(self.verdicts_id, VERDICT_ARROW, "produced_at", VERDICTS_PROPERTIES)
        self._ensure_table(self.dead_letters_id, DEAD_LETTER_ARROW, "first_seen_at", VERDICTS_PROPERTIES)

    def _ensure_table(self, identifier: str, schema: pa.Schema, partition_day: str, props: dict[str, str]) -> None:
        if self.catalog.table_exists(identifier):
            self._evolve(self.catalog.load_table(identifier), schema, props)
            return
        try:
            table = self.catalog.create_table(identifier, schema=schema, properties=props)
        except TableAlreadyExistsError:
            return
        with table.update_spec() as spec:
            spec.add_field(partition_day, DayTransform(), f"{partition_day}_day")

    @staticmethod
    def _evolve(table: Table, schema: pa.Schema, props: dict[str, str]) -> None:
        """Bring a table written by an older release up to the contract: add new columns (as optional, so rows
        already written stay valid) and the table properties this release relies on."""
        if _missing_columns(table, schema):  # top-level or nested (e.g. a new field of the results struct)
            known = {field.name for field in table.schema().fields}
            evolved = pa.schema([f if f.name in known else f.with_nullable(True) for f in schema])
            with table.update_schema() as update:
                update.union_by_name(evolved)
        if any(table.properties.get(k) != v for k, v in props.items()):
            with table.transaction() as tx:
                tx.set_properties(props)

    def verdicts(self) -> Table:
        return self.catalog.load_table(self.verdicts_id)

    def dead_letters(self) -> Table:
        return self.catalog.load_table(self.dead_letters_id)

    def write_verdicts(self, verdicts: Sequence[Verdict]) -> WriteResult:
        """Insert verdicts whose idempotency key is not in the table yet; retry on commit conflicts."""
        if not verdicts:
            return WriteResult(0, 0)
        # Re-validate before the commit: a model built with model_construct() or mutated must not reach the lake.
        checked = [Verdict.model_validate(v.model_dump()) for v in verdicts]
        unique: dict[str, Verdict] = {}
        for verdict in checked:
            unique.setdefault(verdict.idempotency_key, verdict)  # the first of a key is the one that counts
        frame = to_arrow(list(unique.values()), Verdict)
        return self._retry(lambda: self._insert_absent(self.verdicts(), frame, VERDICT_KEY))

    def write_dead_letters(self, letters: Sequence[DeadLetter]) -> WriteResult:
        """Insert dead letters whose id is absent: a re-read record failing at the same stage is one row."""
        if not letters:
            return WriteResult(0, 0)
        unique: dict[str, DeadLetter] = {}
        for letter in letters:
            unique.setdefault(letter.dead_letter_id, letter)
        frame = to_arrow(list(unique.values()), DeadLetter)
        return self._retry(lambda: self._insert_absent(self.dead_letters(), frame, DEAD_LETTER_KEY))

    def duckdb(self) -> Any:
        """A DuckDB connection with the current snapshots registered as views `verdicts` and `dead_letters`."""
        import duckdb

        con = duckdb.connect()
        for name, table in (("verdicts", self.verdicts()), ("dead_letters", self.dead_letters())):
            con.register(name, table.scan().to_arrow())
        return con

    def committed_verdicts(self, keys: Sequence[str]) -> dict[str, Verdict]:
        """The verdicts the lake holds for these idempotency keys."""
        if not keys:
            return {}
        scan = self.verdicts().scan(row_filter=In(VERDICT_KEY, set(keys)))
        return {row[VERDICT_KEY]: Verdict.model_validate(row) for row in scan.to_arrow().to_pylist()}

    @staticmethod
    def _insert_absent(table: Table, frame: pa.Table, key: str) -> int:
        result = table.upsert(frame, join_cols=[key], when_matched_update_all=False)
        return int(result.rows_inserted)

    def _retry(self, op: Callable[[], int]) -> WriteResult:
        return WriteResult(*retry_commit(op, self.settings))


def retry_commit(op: Callable[[], T], settings: LakeSettings) -> tuple[T, int]:
    """Run a whole lake write until it commits → (its result, tries): re-run on commit conflicts
    (`commit_retries` of them), and wait out an unreachable warehouse store (I/O errors while the object store
    restarts) for up to `outage_retry_s`. Re-running is safe for upserts that insert only absent keys; a failed
    try leaves at most orphan files."""
    conflicts, tries, outage_deadline = 0, 0, None
    while True:
        tries += 1
        try:
            return op(), tries
        except CommitFailedException as exc:
            conflicts += 1
            if conflicts >= settings.commit_retries:
                raise LakeWriteError(f"lake commit failed after {conflicts} attempts: {exc}") from exc
            delay = min(2.0, 0.05 * 2**conflicts) * (0.5 + random.random())
            log.info("lake.commit_conflict", attempt=tries, retry_in_s=round(delay, 3))
        except OSError as exc:
            now = time.monotonic()
            outage_deadline = outage_deadline or now + settings.outage_retry_s
            if now >= outage_deadline:
                raise LakeWriteError(
                    f"lake store unreachable for {settings.outage_retry_s:g} s ({tries} tries): {exc}"
                ) from exc
            delay = min(5.0, 0.25 * 2 ** min(tries, 5))
            log.warning("lake.store_unreachable", attempt=tries, retry_in_s=delay, error=str(exc)[:300])
        time.sleep(delay)


def _missing_columns(table: Table, schema: pa.Schema) -> list[str]:
    """Dotted names (nested ones too) of the contract's columns that the table lacks."""
    current = table.schema()
    missing = []
    for name in _dotted_names(list(schema)):
        try:
            current.find_field(name)
        except ValueError:
            missing.append(name)
    return missing


def _dotted_names(fields: list[pa.Field], prefix: str = "") -> list[str]:
    """Iceberg's names for an Arrow tree: struct children as `a.b`, list elements as `a.element`."""
    names = []
    for field in fields:
        name, kind = f"{prefix}{field.name}", field.type
        names.append(name)
        while pa.types.is_list(kind):
            name, kind = f"{name}.element", kind.value_type
        if pa.types.is_struct(kind):
            names.extend(_dotted_names(list(kind), f"{name}."))
    return names
