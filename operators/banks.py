"""Hash banks in the lake: one Iceberg table (`hashing.table` in the lake's namespace, SQL catalog as the rest
of the lake) holding each bank's settings row and its entries. Every change — create, add, import, remove — is
ONE Iceberg commit that also bumps the bank's version (its settings row is replaced in the same transaction);
a match records that version. A malformed import fails before anything is written."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import pyarrow as pa
import structlog
from pyiceberg.exceptions import NamespaceAlreadyExistsError, TableAlreadyExistsError
from pyiceberg.expressions import And, EqualTo, In
from pyiceberg.transforms import IdentityTransform

from guardstream.engines.hashing import Signal, signal_type
from guardstream.engines.hashing.base import MatchRule
from guardstream.engines.hashing.matcher import BankedSignal, BankMatcher, BankRule
from guardstream.engines.hashing.settings import HashingSettings
from guardstream.operators.lake import Lake, retry_commit
from guardstream.operators.lake_settings import LakeSettings

if TYPE_CHECKING:
    from pyiceberg.table import Table

log = structlog.get_logger(__name__)
T = TypeVar("T")
BANK, ENTRY = "bank", "entry"
TABLE_PROPERTIES = {"commit.retry.num-retries": "0"}  # conflicts are retried whole (see Lake._retry)
BANK_ARROW = pa.schema(
    [
        pa.field("bank", pa.string(), nullable=False),
        pa.field("record", pa.string(), nullable=False),  # "bank" (its settings) or "entry"
        pa.field("version", pa.int64(), nullable=False),  # bank version that wrote the row
        pa.field("added_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("policy_id", pa.string()),
        pa.field("action", pa.string()),
        pa.field("threshold", pa.int32()),
        pa.field("query_match_pct", pa.float64()),
        pa.field("compared_match_pct", pa.float64()),
        pa.field("content_id", pa.string()),
        pa.field("signal_type", pa.string()),
        pa.field("signal", pa.large_string()),
        pa.field("source", pa.string()),
        pa.field("note", pa.string()),
    ]
)


class BankError(ValueError):
    """A bank operation refused (unknown bank, duplicate content id, …); the message says why."""


@dataclass(frozen=True)
class Bank:
    name: str
    policy_id: str
    action: str
    threshold: int
    query_match_pct: float
    compared_match_pct: float
    version: int
    updated_at: dt.datetime

    def rule(self) -> BankRule:
        match = MatchRule(self.threshold, self.query_match_pct, self.compared_match_pct)
        return BankRule(self.name, self.version, self.policy_id, self.action, match)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "policy": self.policy_id, "action": self.action, "threshold": self.threshold,
            "query_match_pct": self.query_match_pct, "compared_match_pct": self.compared_match_pct,
            "version": self.version, "updated_at": self.updated_at.isoformat(),
        }  # fmt: skip


@dataclass(frozen=True)
class NewEntry:
    content_id: str
    signal: Signal
    source: str
    note: str | None = None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class BankStore:
    """The bank table. Cheap to create; open one per process (or per DoFn)."""

    def __init__(self, lake: Lake, hashing: HashingSettings) -> None:
        self.lake, self.hashing = lake, hashing
        self.identifier = f"{lake.settings.namespace}.{hashing.table}"

    @classmethod
    def open(cls, lake: LakeSettings, uri: str, warehouse: str, hashing: HashingSettings) -> BankStore:
        store = cls(Lake.open(lake, uri=uri, warehouse=warehouse), hashing)
        store.ensure_table()
        return store

    def ensure_table(self) -> None:
        catalog = self.lake.catalog
        with contextlib.suppress(NamespaceAlreadyExistsError):
            catalog.create_namespace(self.lake.settings.namespace)
        if catalog.table_exists(self.identifier):
            return
        with contextlib.suppress(TableAlreadyExistsError):
            table = catalog.create_table(self.identifier, schema=BANK_ARROW, properties=TABLE_PROPERTIES)
            with table.update_spec() as spec:
                spec.add_field("bank", IdentityTransform(), "bank_part")

    def table(self) -> Table:
        return self.lake.catalog.load_table(self.identifier)

    def snapshot_id(self) -> int | None:
        """The table's current snapshot (changes with every bank change)."""
        snapshot = self.table().current_snapshot()
        return snapshot.snapshot_id if snapshot is not None else None

    def banks(self) -> list[Bank]:
        rows = self.table().scan(row_filter=EqualTo("record", BANK)).to_arrow().to_pylist()
        return sorted((_bank(r) for r in rows), key=lambda b: b.name)

    def bank(self, name: str) -> Bank:
        rows = self.table().scan(row_filter=And(EqualTo("record", BANK), EqualTo("bank", name))).to_arrow()
        if rows.num_rows == 0:
            raise BankError(f"no bank named {name!r}")
        return _bank(rows.to_pylist()[0])

    def entries(self, name: str | None = None) -> list[dict[str, Any]]:
        """Entry rows (one bank or all), without parsing their signals."""
        where = EqualTo("record", ENTRY) if name is None else And(EqualTo("record", ENTRY), EqualTo("bank", name))
        rows: list[dict[str, Any]] = self.table().scan(row_filter=where).to_arrow().to_pylist()
        return rows

    def create(self, name: str, policy_id: str, action: str, threshold: int | None = None) -> Bank:
        """A new, empty bank at version 1."""
        h = self.hashing
        bank = Bank(name, policy_id, action, h.pdq_threshold if threshold is None else threshold,
                    h.vpdq_query_match_pct, h.vpdq_compared_match_pct, 1, _now())  # fmt: skip
        return self._retry(lambda: self._create(bank))

    def _create(self, bank: Bank) -> Bank:
        table = self.table()
        if table.scan(row_filter=And(EqualTo("record", BANK), EqualTo("bank", bank.name))).to_arrow().num_rows:
            raise BankError(f"bank {bank.name!r} already exists")
        with table.transaction() as tx:
            tx.append(_rows([_bank_row(bank)]), snapshot_properties=_props(bank, "create"))
        return bank

    def add(self, name: str, entries: Sequence[NewEntry], change: str = "add") -> Bank:
        """Add entries in one commit (one new bank version); a content id already banked is refused."""
        ids = [e.content_id for e in entries]
        if len(set(ids)) != len(ids):
            raise BankError("content ids repeat within the change")
        return self._retry(lambda: self._change(name, change, list(entries), ()))

    def remove(self, name: str, content_ids: Sequence[str] = ()) -> Bank | None:
        """Remove entries (one commit, a new version), or the whole bank when no ids are given."""
        if not content_ids:
            self._retry(lambda: self._drop(name))
            return None
        return self._retry(lambda: self._change(name, "remove", [], tuple(content_ids)))

    def _change(self, name: str, change: str, added: list[NewEntry], removed: tuple[str, ...]) -> Bank:
        table, old = self.table(), self.bank(name)
        present = {r["content_id"] for r in self.entries(name)}
        clash = sorted(present & {e.content_id for e in added})
        if clash:
            raise BankError(f"content id {clash[0]!r} is already in bank {name!r}")
        missing = sorted(set(removed) - present)
        if missing:
            raise BankError(f"content id {missing[0]!r} is not in bank {name!r}")
        new = Bank(**{**old.__dict__, "version": old.version + 1, "updated_at": _now()})
        props = _props(new, change)
        with table.transaction() as tx:
            tx.delete(And(EqualTo("bank", name), EqualTo("record", BANK)), snapshot_properties=props)
            if removed:
                tx.delete(And(EqualTo("bank", name), In("content_id", set(removed))), snapshot_properties=props)
            tx.append(_rows([_bank_row(new)]), snapshot_properties=props)
            if added:
                tx.append(_rows([_entry_row(name, new.version, e) for e in added]), snapshot_properties=props)
        log.info("bank_changed", bank=name, version=new.version, change=change, added=len(added), removed=len(removed))
        return new

    def _drop(self, name: str) -> None:
        old = self.bank(name)
        with self.table().transaction() as tx:
            tx.delete(EqualTo("bank", name), snapshot_properties=_props(old, "drop"))

    def matcher(self) -> BankMatcher:
        """A matcher over every bank at the table's current snapshot."""
        banks = [b.rule() for b in self.banks()]
        entries = [
            BankedSignal(r["bank"], r["content_id"], signal_type(r["signal_type"]).parse(r["signal"]))
            for r in self.entries()
        ]
        return BankMatcher(banks, entries, self.hashing.quality)

    def _retry(self, op: Callable[[], T]) -> T:
        return retry_commit(op, self.lake.settings)[0]


def _props(bank: Bank, change: str) -> dict[str, str]:
    return {"guardstream.bank": bank.name, "guardstream.bank.version": str(bank.version), "guardstream.change": change}


def _rows(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=BANK_ARROW)


def _bank_row(bank: Bank) -> dict[str, Any]:
    return {
        "bank": bank.name, "record": BANK, "version": bank.version, "added_at": bank.updated_at,
        "policy_id": bank.policy_id, "action": bank.action, "threshold": bank.threshold,
        "query_match_pct": bank.query_match_pct, "compared_match_pct": bank.compared_match_pct,
    }  # fmt: skip


def _entry_row(bank: str, version: int, entry: NewEntry) -> dict[str, Any]:
    kind = signal_type(entry.signal.algorithm)
    return {
        "bank": bank, "record": ENTRY, "version": version, "added_at": _now(), "content_id": entry.content_id,
        "signal_type": kind.name, "signal": kind.serialize(entry.signal), "source": entry.source, "note": entry.note,
    }  # fmt: skip


def _bank(row: dict[str, Any]) -> Bank:
    return Bank(row["bank"], row["policy_id"], row["action"], int(row["threshold"]), float(row["query_match_pct"]),
                float(row["compared_match_pct"]), int(row["version"]), row["added_at"])  # fmt: skip
