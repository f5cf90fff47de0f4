"""`guardstream banks create|add|import|list|show|remove …`: hash banks in the lake (operators/banks.py). Each
change is one Iceberg commit and a new bank version; files go through the stream's fetch limits and the
contained decoder."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from guardstream.pipeline.cli import emit, fail
from guardstream.pipeline.settings import Settings

ACTIONS = ("block", "review", "age_restrict", "label", "hold")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("banks", help="hash banks of known content: create, add, import, list, show, remove")
    verbs = parser.add_subparsers(dest="verb", required=True)
    create = _verb(verbs, "create", "create an empty bank enforcing one policy")
    create.add_argument("--policy", required=True, help="policy id from the policy pack, e.g. c4.scam")
    create.add_argument("--action", choices=ACTIONS, default=None, help="default: the policy's own action")
    create.add_argument("--threshold", type=int, default=None, help="PDQ distance (≤); default 31")
    add = _verb(verbs, "add", "hash files or URIs and add them to a bank (one version)")
    add.add_argument("sources", nargs="+", metavar="FILE_OR_URI")
    add.add_argument("--content-id", default=None, help="id of the content (one source only)")
    add.add_argument("--source", dest="origin", default="cli", help="where the entries came from")
    add.add_argument("--note", default=None)
    imp = _verb(verbs, "import", "import a hash file: all lines or none (one version)")
    imp.add_argument("file", type=Path)
    imp.add_argument("--format", required=True, choices=("pdq", "vpdq", "te-csv"))
    imp.add_argument("--content-id", default=None, help="vpdq: id of the video (default: a digest)")
    _verb(verbs, "list", "list banks", named=False)
    _verb(verbs, "show", "a bank and its entries")
    remove = _verb(verbs, "remove", "remove entries (by content id), or the whole bank")
    remove.add_argument("content_ids", nargs="*", metavar="CONTENT_ID")


def _verb(verbs: Any, name: str, help_text: str, named: bool = True) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = verbs.add_parser(name, help=help_text)
    if named:
        parser.add_argument("name", metavar="NAME")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=run)
    return parser


def open_store(settings: Settings) -> Any:
    """The bank store on this stack's lake (catalog + warehouse from settings or the stack home)."""
    from guardstream.operators.banks import BankStore
    from guardstream.pipeline.stack import LocalStack

    store = BankStore(LocalStack(settings).open_lake(), settings.hashing)
    store.ensure_table()
    return store


def run(args: argparse.Namespace, settings: Settings) -> int:
    from guardstream.engines.hashing.base import SignalError
    from guardstream.operators.banks import BankError
    from guardstream.operators.frames import MediaError

    try:
        emit(_VERBS[args.verb](args, settings, open_store(settings)), args.json)
    except (BankError, SignalError) as exc:
        return fail(str(exc), args.json)
    except MediaError as exc:
        return fail(f"{exc.stage.value}: {exc.reason}", args.json)
    except OSError as exc:  # the lake's catalog or warehouse is unreachable
        return fail(f"lake unavailable: {type(exc).__name__}: {str(exc)[:200]}", args.json)
    return 0


def _create(args: argparse.Namespace, settings: Settings, store: Any) -> dict[str, Any]:
    from guardstream.operators.banks import BankError
    from guardstream.schemas.policy import load_policy_pack

    pack = load_policy_pack(settings.guards.policy_pack)
    policies = {p.id: p for s in pack.policy_sets for p in s.policies}
    if args.policy not in policies:
        raise BankError(f"unknown policy {args.policy!r}; the pack has {', '.join(sorted(policies))}")
    if args.threshold is not None and not 0 <= args.threshold <= 128:
        raise BankError("--threshold must be 0-128")
    action = args.action or policies[args.policy].action.value
    return dict(store.create(args.name, args.policy, action, args.threshold).to_json())


def _add(args: argparse.Namespace, settings: Settings, store: Any) -> dict[str, Any]:
    from guardstream.operators.banks import BankError, NewEntry
    from guardstream.operators.frames.hashing import content_sha256
    from guardstream.pipeline.commands.hash import compute_signal

    if args.content_id and len(args.sources) != 1:
        raise BankError("--content-id names one source; add several sources without it")
    store.bank(args.name)  # refuse an unknown bank before hashing anything
    interval = settings.hashing.bank_seconds_per_hash
    entries = []
    for source in args.sources:
        signal = compute_signal(source, settings, interval)
        local = Path(source)
        default_id = content_sha256(local) if local.is_file() else f"uri:{source}"
        entries.append(NewEntry(args.content_id or default_id, signal, args.origin, args.note))
    bank = store.add(args.name, entries)
    return {"bank": bank.to_json(), "added": [e.content_id for e in entries]}


def _import(args: argparse.Namespace, settings: Settings, store: Any) -> dict[str, Any]:
    from guardstream.engines.hashing.formats import parse_import
    from guardstream.operators.banks import BankError, NewEntry

    try:
        text = args.file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BankError(f"cannot read {args.file}: {type(exc).__name__}") from None
    store.bank(args.name)
    rows = parse_import(text, args.format, args.content_id)
    origin = f"import:{args.format}:{args.file.name}"
    bank = store.add(args.name, [NewEntry(r.content_id, r.signal, origin, r.note) for r in rows], change="import")
    return {"bank": bank.to_json(), "imported": len(rows)}


def _list(args: argparse.Namespace, settings: Settings, store: Any) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for row in store.entries():
        counts[row["bank"]] = counts.get(row["bank"], 0) + 1
    return {"banks": [{**b.to_json(), "entries": counts.get(b.name, 0)} for b in store.banks()]}


def _show(args: argparse.Namespace, settings: Settings, store: Any) -> dict[str, Any]:
    keys = ("content_id", "signal_type", "source", "added_at", "note", "version")
    rows = sorted(store.entries(args.name), key=lambda r: (r["version"], r["content_id"]))
    return {"bank": store.bank(args.name).to_json(), "entries": [{k: r[k] for k in keys} for r in rows]}


def _remove(args: argparse.Namespace, settings: Settings, store: Any) -> dict[str, Any]:
    bank = store.remove(args.name, args.content_ids)
    if bank is None:
        return {"removed_bank": args.name}
    return {"bank": bank.to_json(), "removed": list(args.content_ids)}


_VERBS = {"create": _create, "add": _add, "import": _import, "list": _list, "show": _show, "remove": _remove}
