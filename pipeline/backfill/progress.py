"""Live progress of a pass, read from its journal files as they grow: a rich bar on a terminal (items, rate,
ETA, flagged, dead letters), one structured log line every few seconds otherwise."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import structlog

from guardstream.pipeline.backfill.ledger import RunLedger

log = structlog.get_logger(__name__)


class JournalTail:
    """Counts outcomes in a pass's journals, reading only the bytes added since the last call."""

    def __init__(self, ledger: RunLedger, pass_name: str) -> None:
        self.ledger, self.pass_name = ledger, pass_name
        self.offsets: dict[Path, int] = {}
        self.counts: Counter[str] = Counter()

    def poll(self) -> Counter[str]:
        for path in self.ledger.journals(self.pass_name):
            with path.open("rb") as f:
                f.seek(self.offsets.get(path, 0))
                data = f.read()
            complete = data[: data.rfind(b"\n") + 1]  # a line still being written is read next time
            self.offsets[path] = self.offsets.get(path, 0) + len(complete)
            for line in complete.splitlines():
                row = json.loads(line)
                self.counts[row["o"]] += 1
                self.counts["flagged"] += bool(row.get("f"))
        return self.counts


class ProgressReporter:
    """A background thread rendering a pass's progress until `stop()`."""

    def __init__(self, ledger: RunLedger, pass_name: str, total: list[int | None], interval_s: float = 0.5,
                 log_every_s: float = 5.0, tty: bool | None = None) -> None:  # fmt: skip
        self.tail = JournalTail(ledger, pass_name)
        self.pass_name, self.total, self.interval_s, self.log_every_s = pass_name, total, interval_s, log_every_s
        self.tty = sys.stderr.isatty() if tty is None else tty
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="backfill-progress", daemon=True)
        self.started = time.monotonic()

    def start(self) -> ProgressReporter:
        self._thread.start()
        return self

    def stop(self) -> dict[str, Any]:
        self._stop.set()
        self._thread.join(timeout=10)
        return self.snapshot()

    def snapshot(self) -> dict[str, Any]:
        c = self.tail.poll()
        done = c["verdict"] + c["dead_letter"] + c["skipped"]
        elapsed = max(time.monotonic() - self.started, 1e-9)
        return {"pass": self.pass_name, "done": done, "total": self.total[0], "scored": c["verdict"],
                "skipped": c["skipped"], "dead_letters": c["dead_letter"], "flagged": c["flagged"],
                "items_per_s": round(done / elapsed, 2)}  # fmt: skip

    def _run(self) -> None:
        if self.tty:
            self._run_rich()
            return
        last = 0.0
        while not self._stop.wait(self.interval_s):
            if time.monotonic() - last >= self.log_every_s:
                log.info("backfill.progress", **self.snapshot())
                last = time.monotonic()

    def _run_rich(self) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        counts = TextColumn("{task.fields[rate]}/s flagged {task.fields[flagged]} dead {task.fields[dead]}")
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), counts)
        with Progress(*columns, transient=False) as bar:
            task = bar.add_task(f"backfill {self.pass_name}", total=None, rate=0, flagged=0, dead=0)
            while not self._stop.wait(self.interval_s):
                s = self.snapshot()
                bar.update(task, completed=s["done"], total=s["total"], rate=s["items_per_s"], flagged=s["flagged"],
                           dead=s["dead_letters"])  # fmt: skip
