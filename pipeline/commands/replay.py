"""`guardstream replay [--stage S] [--upload-id U] [--dry-run] [--json]`: re-produce dead-lettered uploads.

Reads the dead-letters table in the lake, selects by stage and/or upload id, and sends each distinct original
payload back to the uploads topic (keyed by upload id when known), with a header carrying the tries it has had so
far, so a dead letter of the replay counts them on. The old dead letters stay as audit records.
"""

from __future__ import annotations

import argparse
from typing import Any, NamedTuple

from guardstream.operators.envelope import ATTEMPTS_HEADER
from guardstream.pipeline.cli import emit
from guardstream.pipeline.settings import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("replay", help="re-produce dead-lettered uploads to the uploads topic")
    parser.add_argument("--stage", help="only dead letters from this stage (parse, validate, route, fetch, …)")
    parser.add_argument("--upload-id", help="only this upload")
    parser.add_argument("--dry-run", action="store_true", help="count, send nothing")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(handler=run)


class Replay(NamedTuple):
    upload_id: str | None
    payload: bytes
    attempts: int  # tries the payload has had so far: the most any of its dead letters counted


def select_payloads(rows: list[dict[str, Any]], stage: str | None, upload_id: str | None) -> list[Replay]:
    """Distinct payloads of the matching dead letters, oldest first, each with the tries it has had."""
    chosen: dict[bytes, Replay] = {}
    for row in sorted(rows, key=lambda r: str(r["first_seen_at"])):
        if (stage and row["stage"] != stage) or (upload_id and row["upload_id"] != upload_id):
            continue
        payload = bytes(row["payload"])
        seen = chosen.get(payload)
        attempts = max(int(row.get("attempt") or 1), seen.attempts if seen else 0)
        chosen[payload] = Replay(seen.upload_id if seen else row["upload_id"], payload, attempts)
    return list(chosen.values())


def run(args: argparse.Namespace, settings: Settings) -> int:
    from kafka import KafkaProducer

    from guardstream.pipeline.stack import LocalStack

    stack = LocalStack(settings)
    lake = stack.open_lake()
    lake.ensure_tables()
    selected = select_payloads(lake.dead_letters().scan().to_arrow().to_pylist(), args.stage, args.upload_id)
    if not args.dry_run and selected:
        bootstrap = settings.kafka.bootstrap_servers or stack.status()["kafka_bootstrap"]
        producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", **settings.kafka.client_config())
        for item in selected:
            key = item.upload_id.encode() if item.upload_id else None
            headers = [(ATTEMPTS_HEADER, str(item.attempts).encode())]
            producer.send(settings.kafka.uploads_topic, key=key, value=item.payload, headers=headers)
        producer.flush()
        producer.close()
    emit({"selected": len(selected), "replayed": 0 if args.dry_run else len(selected)}, args.json)
    return 0
