"""The local stack's supervisor: started by `guardstream stack up`, it restarts any component that died (on
its old ports, so clients reconnect) and sweeps the broker's log on S3 (pipeline/broker_retention.py).

Run as `python -m guardstream.pipeline.supervisor HOME`. It reads the settings `up` saved in the home (0600,
secrets included: they are this stack's own) and exits when `down` removes it from the stack state.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import structlog
from pydantic import SecretStr

from guardstream.pipeline.settings import Settings

log = structlog.get_logger(__name__)

SETTINGS_FILE = "stack-settings.json"
CHECK_INTERVAL_S = 2.0


def _plain(value: Any) -> Any:
    return value.get_secret_value() if isinstance(value, SecretStr) else str(value)


def save_settings(settings: Settings, home: Path) -> Path:
    """Write the settings the supervisor runs with (owner-only: they may hold credentials)."""
    path = home / SETTINGS_FILE
    fd = os.open(path, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(settings.model_dump(mode="python"), out, default=_plain)
    return path


def load_settings(home: Path) -> Settings:
    return Settings.model_validate(json.loads((home / SETTINGS_FILE).read_text()))


def sweep_broker(stack: Any) -> dict[str, int]:
    """One retention sweep over the stack's three topics; batches deleted per topic."""
    from guardstream.operators.kafka_admin import committed_offsets, high_watermarks
    from guardstream.operators.objectstore import S3Client
    from guardstream.pipeline.broker_retention import sweep_topic

    s, store = stack.settings, stack.object_store()
    bootstrap = stack.status()["kafka_bootstrap"]
    if store is None or bootstrap is None or s.broker.storage != "s3":
        return {}
    client, k = S3Client(store), s.kafka
    keep = {k.uploads_topic: committed_offsets(bootstrap, k.uploads_topic, k.group_id, k.client_config())}
    for topic in (k.verdicts_topic, k.dead_letters_topic):
        keep[topic] = high_watermarks(bootstrap, topic, k.client_config())
    swept = {t: sweep_topic(client, store.broker_bucket, t, offsets, s.broker) for t, offsets in keep.items()}
    return {t: sum(d for d, _ in parts.values()) for t, parts in swept.items()}


def _still_wanted(stack: Any) -> bool:
    from guardstream.pipeline.stack import StackState

    comp = StackState.load(stack.home).components.get("supervisor")
    return comp is not None and comp.pid == os.getpid()


def run(home: Path) -> None:
    from guardstream.pipeline.stack import LocalStack

    stack = LocalStack(load_settings(home))
    next_sweep = time.monotonic() + stack.settings.broker.retention_sweep_interval_s
    while _still_wanted(stack):
        try:
            if not stack.status()["healthy"]:
                log.info("supervisor.restarting")
                stack.up(supervise=False)
            if time.monotonic() >= next_sweep:
                next_sweep = time.monotonic() + stack.settings.broker.retention_sweep_interval_s
                log.info("supervisor.swept", deleted=sweep_broker(stack))
        except Exception as exc:  # a failed round is retried: the supervisor must not die
            log.warning("supervisor.round_failed", error=type(exc).__name__, detail=str(exc)[:200])
        time.sleep(CHECK_INTERVAL_S)


if __name__ == "__main__":
    run(Path(sys.argv[1]))
