"""A backfill run's ledger: its folder under `<stack home>/backfill/<run_id>/` holds

- `run.json` — what the run was started with (reused by `--resume`), and `state.json` — where it stands;
- `journal-<pass>-*.jsonl` — one line per listed item once its outcome is durable (verdict, dead letter, or
  skipped because the lake already decided it), appended and fsynced per bundle by each acknowledging worker;
- `uploads-*.jsonl` — the upload events the listing produced (the uploads catalogue lake queries join with).

Progress is the set of global listing indices journaled, kept as closed ranges (a kill -9 leaves a few gaps,
never a long list), so a resume skips what is done in bounded memory whatever the listing's size.
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
import os
import secrets
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

PASSES = ("main", "shadow")


class UnknownRun(LookupError):
    """No ledger exists for the run id."""


class RunExists(FileExistsError):
    """A ledger already exists for the run id (resume it instead)."""


@dataclass(frozen=True)
class RunConfig:
    """What a run was started with; `--resume` reuses it unchanged."""

    run_id: str
    source: str
    policy_pack: str
    policy_set: str | None = None
    shadow_pack: str | None = None
    shards: int = 1
    engine: str = "inprocess"
    limit: int | None = None
    publish: bool = False
    created_at: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat())


@dataclass(frozen=True)
class JournalEntry:
    """One durable outcome: global listing index, upload id, idempotency key, outcome, flagged, action."""

    g: int
    o: str  # verdict | dead_letter | skipped
    u: str | None = None
    k: str | None = None
    f: bool = False
    a: str | None = None
    r: str | None = None  # skipped: the run whose verdict the lake holds


def new_run_id() -> str:
    return dt.datetime.now(dt.UTC).strftime("bf-%Y%m%d-%H%M%S-") + secrets.token_hex(2)


@dataclass(frozen=True)
class RunLedger:
    root: Path
    run_id: str

    @property
    def folder(self) -> Path:
        return self.root / self.run_id

    def create(self, config: RunConfig) -> None:
        try:
            self.folder.mkdir(parents=True)
        except FileExistsError:
            raise RunExists(f"backfill run {self.run_id!r} exists; resume it with --resume {self.run_id}") from None
        _write_atomic(self.folder / "run.json", asdict(config))
        self.set_state("created")

    def config(self) -> RunConfig:
        try:
            data = json.loads((self.folder / "run.json").read_text())
        except FileNotFoundError:
            raise UnknownRun(f"no backfill run {self.run_id!r} under {self.root}") from None
        return RunConfig(**data)

    def set_state(self, state: str, **extra: Any) -> None:
        _write_atomic(self.folder / "state.json", {"state": state, "pid": os.getpid(), **extra,
                                                   "updated_at": dt.datetime.now(dt.UTC).isoformat()})  # fmt: skip

    def state(self) -> dict[str, Any]:
        """The saved state; a `running` run whose process is gone reads as `interrupted`."""
        path = self.folder / "state.json"
        if not path.exists():
            raise UnknownRun(f"no backfill run {self.run_id!r} under {self.root}")
        state: dict[str, Any] = json.loads(path.read_text())
        if state["state"] == "running" and not _alive(int(state.get("pid", 0))):
            state["state"] = "interrupted"
        return state

    def journals(self, pass_name: str = "main") -> list[Path]:
        return sorted(self.folder.glob(f"journal-{pass_name}-*.jsonl"))

    def writer(self, pass_name: str, kind: str = "journal") -> AppendFile:
        return AppendFile(self.folder / f"{kind}-{pass_name}-{uuid.uuid4().hex[:12]}.jsonl")


class AppendFile:
    """An append-only JSONL file: a batch of lines is flushed and fsynced before `append` returns."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: Any = None

    def append(self, rows: Iterable[dict[str, Any]]) -> None:
        lines = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in rows)
        if not lines:
            return
        if self._file is None:
            self._file = self.path.open("a", encoding="utf-8")
        self._file.write(lines)
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def entry_row(entry: JournalEntry) -> dict[str, Any]:
    return {k: v for k, v in asdict(entry).items() if v is not None and v is not False}


@dataclass(frozen=True)
class DoneRanges:
    """Closed ranges of done global indices; membership by bisection."""

    ranges: tuple[tuple[int, int], ...] = ()

    def __contains__(self, g: int) -> bool:
        i = bisect.bisect_right(self.ranges, (g, float("inf"))) - 1
        return i >= 0 and self.ranges[i][0] <= g <= self.ranges[i][1]

    @property
    def count(self) -> int:
        return sum(b - a + 1 for a, b in self.ranges)


def _journal_sql(paths: Sequence[Path]) -> str:
    files = json.dumps([str(p) for p in paths]).replace('"', "'")
    columns = "{g: 'BIGINT', o: 'VARCHAR', u: 'VARCHAR', k: 'VARCHAR', f: 'BOOLEAN', a: 'VARCHAR', r: 'VARCHAR'}"
    return f"read_json({files}, columns={columns}, format='newline_delimited')"


def journal_view(paths: Sequence[Path]) -> str:
    """SQL for journal rows (an empty relation when there are none)."""
    if not [p for p in paths if p.stat().st_size > 0]:
        return "SELECT NULL::BIGINT g, NULL o, NULL u, NULL k, NULL::BOOLEAN f, NULL a, NULL r WHERE false"
    return f"SELECT * FROM {_journal_sql([p for p in paths if p.stat().st_size > 0])}"


def done_ranges(ledger: RunLedger, pass_name: str = "main") -> DoneRanges:
    """The journaled indices of a pass as closed ranges (gaps-and-islands in DuckDB: bounded memory)."""
    import duckdb

    sql = (
        f"SELECT min(g), max(g) FROM (SELECT g, g - row_number() OVER (ORDER BY g) AS island "
        f"FROM (SELECT DISTINCT g FROM ({journal_view(ledger.journals(pass_name))}))) GROUP BY island ORDER BY 1"
    )
    return DoneRanges(tuple((int(a), int(b)) for a, b in duckdb.connect().execute(sql).fetchall()))


def summarise(ledger: RunLedger, pass_name: str = "main") -> dict[str, int]:
    """Counts over a pass's journal: items, scored, skipped, dead letters, flagged, duplicates, recovered."""
    import duckdb

    sql = f"""SELECT count(DISTINCT g), count(*) FILTER (o = 'verdict'), count(*) FILTER (o = 'skipped'),
                     count(*) FILTER (o = 'dead_letter'), count(*) FILTER (f), count(*) - count(DISTINCT g),
                     count(*) FILTER (o = 'skipped' AND r = '{ledger.run_id}')
              FROM ({journal_view(ledger.journals(pass_name))})"""
    row = duckdb.connect().execute(sql).fetchone() or (0,) * 7
    names = ("items", "scored", "skipped", "dead_letters", "flagged", "duplicates", "recovered")
    return {n: int(v or 0) for n, v in zip(names, row, strict=True)}


def _write_atomic(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
