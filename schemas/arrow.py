"""Explicit Arrow schemas for the contracts (never inferred from data) and model <-> Arrow conversion."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

import pyarrow as pa
from pydantic import BaseModel

from guardstream.schemas.dead_letter import DeadLetter
from guardstream.schemas.upload import UploadEvent
from guardstream.schemas.verdict import Verdict

M = TypeVar("M", bound=BaseModel)

_TS = pa.timestamp("us", tz="UTC")

UPLOAD_EVENT_ARROW = pa.schema(
    [
        pa.field("schema_version", pa.int32(), nullable=False),
        pa.field("upload_id", pa.string(), nullable=False),
        pa.field("tenant", pa.string(), nullable=False),
        pa.field("surface", pa.string(), nullable=False),
        pa.field("media_uri", pa.string(), nullable=False),
        pa.field("media_type", pa.string(), nullable=False),
        pa.field("content_hash", pa.string()),
        pa.field("title", pa.string(), nullable=False),
        pa.field("description", pa.string(), nullable=False),
        pa.field("transcript", pa.string(), nullable=False),
        pa.field("locale", pa.string(), nullable=False),
        pa.field("region", pa.string(), nullable=False),
        pa.field("created_at", _TS, nullable=False),
        pa.field("priority", pa.string(), nullable=False),
        pa.field("policy_set_override", pa.string()),
    ]
)

HASH_MATCH_ARROW = pa.struct(
    [
        pa.field("bank", pa.string(), nullable=False),
        pa.field("signal_type", pa.string(), nullable=False),
        pa.field("matched_id", pa.string(), nullable=False),
        pa.field("distance", pa.int32(), nullable=False),
        pa.field("bank_version", pa.int64()),
        pa.field("query_match_pct", pa.float64()),
        pa.field("compared_match_pct", pa.float64()),
    ]
)

EVIDENCE_ARROW = pa.struct(
    [
        pa.field("timestamps_s", pa.list_(pa.float64()), nullable=False),
        pa.field("frame_indices", pa.list_(pa.int64()), nullable=False),
        pa.field("ocr_span", pa.string()),
        pa.field("text_field", pa.string()),
        pa.field("hash_match", HASH_MATCH_ARROW),
    ]
)

GUARD_SCORE_ARROW = pa.struct(
    [pa.field("guard", pa.string(), nullable=False), pa.field("probability", pa.float64(), nullable=False)]
)

POLICY_RESULT_ARROW = pa.struct(
    [
        pa.field("policy_id", pa.string(), nullable=False),
        pa.field("probability", pa.float64(), nullable=False),
        pa.field("violated", pa.bool_(), nullable=False),
        pa.field("severity", pa.string(), nullable=False),
        pa.field("explanation", pa.string()),
        pa.field("evidence", EVIDENCE_ARROW, nullable=False),
        pa.field("guard_scores", pa.list_(GUARD_SCORE_ARROW)),
        pa.field("error", pa.string()),
    ]
)

GUARD_RUN_ARROW = pa.struct(
    [
        pa.field("guard", pa.string(), nullable=False),
        pa.field("version", pa.string(), nullable=False),
        pa.field("stage", pa.int32(), nullable=False),
        pa.field("policy_ids", pa.list_(pa.string()), nullable=False),
        pa.field("error", pa.string()),
        pa.field("latency_ms", pa.float64()),
    ]
)

LATENCY_ARROW = pa.struct(
    [pa.field(name, pa.float64()) for name in ("fetch_ms", "decode_ms", "hash_ms", "infer_ms", "total_ms")]
)

VERDICT_ARROW = pa.schema(
    [
        pa.field("idempotency_key", pa.string(), nullable=False),
        pa.field("schema_version", pa.int32(), nullable=False),
        pa.field("upload_id", pa.string(), nullable=False),
        pa.field("tenant", pa.string(), nullable=False),
        pa.field("policy_set_id", pa.string(), nullable=False),
        pa.field("policy_set_version", pa.string(), nullable=False),
        pa.field("guard_name", pa.string(), nullable=False),
        pa.field("guard_version", pa.string(), nullable=False),
        pa.field("action", pa.string(), nullable=False),
        pa.field("status", pa.string(), nullable=False),
        pa.field("error", pa.string()),
        pa.field("results", pa.list_(POLICY_RESULT_ARROW), nullable=False),
        pa.field("latency", LATENCY_ARROW, nullable=False),
        pa.field("produced_at", _TS, nullable=False),
        pa.field("guards_run", pa.list_(GUARD_RUN_ARROW)),
        pa.field("mode", pa.string()),
        pa.field("run_id", pa.string()),
        pa.field("shadow", pa.bool_()),
    ]
)

DEAD_LETTER_ARROW = pa.schema(
    [
        pa.field("dead_letter_id", pa.string(), nullable=False),
        pa.field("schema_version", pa.int32(), nullable=False),
        pa.field("payload", pa.binary(), nullable=False),
        pa.field("payload_size", pa.int64()),
        pa.field("payload_sha256", pa.string()),
        pa.field("payload_truncated", pa.bool_(), nullable=False),
        pa.field("upload_id", pa.string()),
        pa.field("stage", pa.string(), nullable=False),
        pa.field("error_class", pa.string(), nullable=False),
        pa.field("message", pa.string(), nullable=False),
        pa.field("attempt", pa.int32(), nullable=False),
        pa.field("first_seen_at", _TS, nullable=False),
        pa.field("source_topic", pa.string()),
        pa.field("source_partition", pa.int32()),
        pa.field("source_offset", pa.int64()),
    ]
)

ARROW_SCHEMAS: dict[type[BaseModel], pa.Schema] = {
    UploadEvent: UPLOAD_EVENT_ARROW,
    Verdict: VERDICT_ARROW,
    DeadLetter: DEAD_LETTER_ARROW,
}


def to_arrow(models: Sequence[BaseModel], cls: type[BaseModel] | None = None) -> pa.Table:
    """Models of one class -> an Arrow table in that class's explicit schema."""
    model_cls = cls or type(models[0])
    rows = [m.model_dump(mode="python") for m in models]
    return pa.Table.from_pylist(rows, schema=ARROW_SCHEMAS[model_cls])


def from_arrow(table: pa.Table, cls: type[M]) -> list[M]:
    """Arrow rows -> validated models; computed fields (e.g. idempotency_key) are checked against the content."""
    return [cls.model_validate(row) for row in table.to_pylist()]


def _arrow_names(arrow_type: pa.DataType | pa.Schema) -> dict[str, Any]:
    fields: Iterable[pa.Field] = arrow_type if isinstance(arrow_type, pa.Schema) else list(arrow_type)
    out: dict[str, Any] = {}
    for field in fields:
        inner = field.type.value_type if pa.types.is_list(field.type) else field.type
        out[field.name] = _arrow_names(inner) if pa.types.is_struct(inner) else None
    return out


def _dump_names(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _dump_names(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)) and value and isinstance(value[0], dict):
        return _dump_names(value[0])
    return None


def arrow_drift(example: BaseModel) -> list[str]:
    """Differences between a fully populated model's field tree and its explicit Arrow schema."""
    want = _dump_names(example.model_dump(mode="python"))
    have = _arrow_names(ARROW_SCHEMAS[type(example)])
    problems: list[str] = []

    def walk(a: Any, b: Any, path: str) -> None:
        for name in sorted(set(a) | set(b)):
            where = f"{path}{name}"
            if name not in b:
                problems.append(f"{where}: in the model, missing from the Arrow schema")
            elif name not in a:
                problems.append(f"{where}: in the Arrow schema, missing from the model")
            elif isinstance(a[name], dict) and isinstance(b[name], dict):
                walk(a[name], b[name], where + ".")

    walk(want, have, "")
    return problems
