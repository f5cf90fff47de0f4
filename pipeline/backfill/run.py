"""Run, resume and inspect backfill runs: the ledger, the passes (main, then shadow), the engine, the summary."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from guardstream.pipeline.backfill.items import Defaults
from guardstream.pipeline.backfill.job import BackfillJob
from guardstream.pipeline.backfill.ledger import RunConfig, RunLedger, done_ranges, new_run_id, summarise
from guardstream.pipeline.backfill.progress import ProgressReporter
from guardstream.pipeline.backfill.source import PassSpec
from guardstream.pipeline.backfill.sources import LakeQuery, ListingSpec, parse_source
from guardstream.pipeline.settings import Settings
from guardstream.schemas.policy import DEFAULT_PACK, PolicyPack, RoutingRule, RoutingTable, load_policy_pack

log = structlog.get_logger(__name__)


class UsageError(ValueError):
    """A bad combination of backfill options."""


@dataclass(frozen=True)
class BackfillOptions:
    source: str | None = None
    policy_pack: str | None = None
    policy_set: str | None = None
    shadow_pack: str | None = None
    workers: int = 1
    engine: str = "inprocess"
    run_id: str | None = None
    resume: str | None = None
    limit: int | None = None
    publish: bool = False
    deploy: bool = True
    progress: bool = True

    def check(self, engines: tuple[str, ...]) -> None:
        """Raise UsageError naming the first bad combination."""
        fixed = {"SOURCE": self.source, "--policy-pack": self.policy_pack, "--policy-set": self.policy_set,
                 "--shadow-pack": self.shadow_pack, "--run-id": self.run_id, "--limit": self.limit}  # fmt: skip
        given = [name for name, value in fixed.items() if value is not None]
        if self.resume and given:
            raise UsageError(f"--resume continues a run with the settings it started with; drop {', '.join(given)}")
        if not self.resume and not self.source:
            raise UsageError(
                "give a SOURCE (folder, JSONL manifest, s3://bucket/prefix, lake:QUERY) or --resume RUN_ID"
            )
        if self.workers < 1:
            raise UsageError("--workers must be at least 1")
        if self.limit is not None and self.limit < 1:
            raise UsageError("--limit must be at least 1")
        if self.engine not in engines:
            raise UsageError(f"unknown --engine {self.engine!r}; one of {', '.join(engines)}")


def runs_root(settings: Settings) -> Path:
    return settings.stack.home.resolve() / "backfill"


def load_pack(path: str, policy_set: str | None) -> PolicyPack:
    """The pack, or (with --policy-set) the pack with every upload routed to that one set."""
    pack = load_policy_pack(path)
    if policy_set is None:
        return pack
    try:
        pack.policy_set(policy_set)
    except KeyError:
        raise UsageError(f"--policy-set {policy_set!r} is not in {path}: {[s.id for s in pack.policy_sets]}") from None
    routing = RoutingTable(rules=(RoutingRule(policy_set=policy_set),), known_tenants=pack.routing.known_tenants)
    return pack.model_copy(update={"routing": routing})


def start_ledger(settings: Settings, opts: BackfillOptions) -> tuple[RunLedger, RunConfig]:
    """A new run's ledger (created) or the resumed run's (loaded; UnknownRun when absent)."""
    root = runs_root(settings)
    if opts.resume:
        ledger = RunLedger(root, opts.resume)
        return ledger, ledger.config()
    assert opts.source is not None
    config = RunConfig(
        run_id=opts.run_id or new_run_id(), source=opts.source,
        policy_pack=str(Path(opts.policy_pack or settings.guards.policy_pack or DEFAULT_PACK).resolve()),
        policy_set=opts.policy_set, shadow_pack=str(Path(opts.shadow_pack).resolve()) if opts.shadow_pack else None,
        shards=opts.workers, engine=opts.engine, limit=opts.limit, publish=opts.publish,
    )  # fmt: skip
    ledger = RunLedger(root, config.run_id)
    ledger.create(config)
    return ledger, config


def count_listing(ledger: RunLedger, listing: ListingSpec, limit: int | None, total: list[int | None]) -> None:
    """Stream the listing once to learn its size (never held): fills `total[0]` and the ledger's state."""
    n = 0
    for _ in listing.entries():
        n += 1
        if limit is not None and n >= limit:
            break
    total[0] = n
    (ledger.folder / "total.json").write_text(json.dumps({"total": n}))


EngineFn = Callable[[BackfillJob, int], None]


def run_pass(job: BackfillJob, engine: EngineFn, workers: int, show: bool) -> dict[str, Any]:
    total: list[int | None] = [None]
    threading.Thread(
        target=count_listing, args=(job.spec.ledger, job.spec.listing, job.spec.limit, total), daemon=True
    ).start()
    reporter = ProgressReporter(job.spec.ledger, job.spec.pass_name, total).start() if show else None
    try:
        engine(job, workers)
    finally:
        if reporter is not None:
            reporter.stop()
    return summarise(job.spec.ledger, job.spec.pass_name)


def run_backfill(settings: Settings, opts: BackfillOptions, engines: dict[str, EngineFn]) -> dict[str, Any]:
    """Create or resume a run, deploy the guard app (unless told not to), run each pass; the summary."""
    from guardstream.pipeline.commands.stream import endpoints_for

    opts.check(tuple(engines))
    started = time.monotonic()
    root = runs_root(settings)
    if opts.resume:
        RunLedger(root, opts.resume).config()  # UnknownRun before anything starts
    ledger, config = start_ledger(settings, opts)
    packs = {"main": load_pack(config.policy_pack, config.policy_set)}
    if config.shadow_pack:
        packs["shadow"] = load_pack(config.shadow_pack, config.policy_set)
    guards = settings.guards.model_copy(update={"policy_pack": Path(config.policy_pack)})
    settings = settings.model_copy(update={"guards": guards})
    ledger.set_state("running", engine=opts.engine, workers=opts.workers)
    try:
        endpoints, guard_version = endpoints_for(settings, deploy=opts.deploy)
        settings = endpoints.with_object_store(settings)
        lake_query = LakeQuery(settings.lake, endpoints.catalog_uri, endpoints.warehouse, str(root))
        listing = parse_source(config.source, Defaults(), endpoints.object_store, lake_query)
        if listing.media_root is not None:
            limits = settings.limits.model_copy(update={"allowed_roots": (*settings.limits.allowed_roots,
                                                                          listing.media_root)})  # fmt: skip
            settings = settings.model_copy(update={"limits": limits})
        results = {}
        for pass_name, pack in packs.items():
            spec = PassSpec(ledger, pass_name, listing, pack, guard_version, settings.lake, endpoints.catalog_uri,
                            endpoints.warehouse, shards=opts.workers, limit=config.limit,
                            done=done_ranges(ledger, pass_name))  # fmt: skip
            job = BackfillJob(settings, endpoints, settings.guards.name, guard_version, ledger.folder / "stop", pack,
                              spec=spec, publish=config.publish)  # fmt: skip
            results[pass_name] = run_pass(job, engines[opts.engine], opts.workers, opts.progress)
    except BaseException as exc:
        ledger.set_state("failed", error=f"{type(exc).__name__}: {str(exc)[:300]}")
        raise
    main = results["main"]
    counts = {k: main[k] for k in ("items", "scored", "skipped", "dead_letters", "flagged")}
    summary = {"run_id": ledger.run_id, **counts,
               "elapsed_s": round(time.monotonic() - started, 2), "duplicates": main["duplicates"],
               "recovered": main["recovered"], "guard_version": guard_version, "engine": opts.engine,
               "workers": opts.workers, "resumed": bool(opts.resume)}  # fmt: skip
    if "shadow" in results:
        summary["shadow"] = results["shadow"]
    ledger.set_state("done", **{k: v for k, v in summary.items() if k != "run_id"})
    return summary


def run_status(settings: Settings, run_id: str) -> dict[str, Any]:
    """Where a run stands: state, done (items journaled), total (when the run finished), counts."""
    ledger = RunLedger(runs_root(settings), run_id)
    state = ledger.state()
    counts = summarise(ledger)
    known = ledger.folder / "total.json"
    total = json.loads(known.read_text())["total"] if known.exists() else None
    return {"run_id": run_id, "state": state["state"], "done": counts["items"], "total": total,
            "scored": counts["scored"], "skipped": counts["skipped"], "dead_letters": counts["dead_letters"],
            "flagged": counts["flagged"], "config": ledger.config().__dict__}  # fmt: skip
