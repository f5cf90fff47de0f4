"""Safe wire codec for guard requests and results: a JSON header plus raw uint8 frame bytes, never pickle.

Layout of a request body: b"GSW1" | header length (uint32, big-endian) | UTF-8 JSON header | frame blobs.
Each request in the header names its frames' shape, byte offset and length in the blob area, its policies
(full policy objects, or policy ids resolved by the server's policy set) and its text evidence.
Results travel as plain JSON (a plan's result adds a `plan` object:
each guard's part, which guards ran). Every malformed body raises WireError with a reason the client can read.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import ValidationError

from guardstream.engines.base import Frames, GuardRequest, GuardResult, PolicyScore, TextEvidence
from guardstream.engines.plan.result import PlanResult, plan_result_from_dict, plan_result_to_dict
from guardstream.schemas.policy import Policy
from guardstream.schemas.verdict import Evidence

MAGIC = b"GSW1"
_PREFIX = struct.Struct(">4sI")
MAX_TEXT_CHARS = 65536


class WireError(ValueError):
    """The body is not a valid guard request; the message says why."""


@dataclass(frozen=True)
class WireLimits:
    max_body_bytes: int = 256 * 1024 * 1024
    max_header_bytes: int = 4 * 1024 * 1024
    max_requests: int = 64


def encode_requests(requests: Sequence[GuardRequest], policy_ids_only: bool = False) -> bytes:
    """Serialise requests; with `policy_ids_only` the server resolves policy ids against its own policy set."""
    entries, blobs, offset = [], [], 0
    for request in requests:
        pixels = np.ascontiguousarray(request.frames.pixels, dtype=np.uint8)
        blob = pixels.tobytes()
        entries.append(_request_header(request, pixels.shape, offset, len(blob), policy_ids_only))
        blobs.append(blob)
        offset += len(blob)
    header = json.dumps({"requests": entries}, separators=(",", ":")).encode("utf-8")
    return _PREFIX.pack(MAGIC, len(header)) + header + b"".join(blobs)


def _request_header(
    request: GuardRequest, shape: tuple[int, ...], offset: int, nbytes: int, ids_only: bool
) -> dict[str, Any]:
    policies = [p.id if ids_only else p.model_dump(mode="json") for p in request.policies]
    text = {"title": request.text.title, "description": request.text.description}
    text["transcript"] = request.text.transcript
    frames = {"shape": list(shape), "dtype": "uint8", "offset": offset, "nbytes": nbytes}
    frames |= {"timestamps_s": list(request.frames.timestamps_s), "indices": list(request.frames.indices)}
    return {
        "request_id": request.request_id,
        "policies": policies,
        "text": text,
        "policy_set_version": request.policy_set_version,
        "frames": frames,
    }


def decode_requests(
    body: bytes, resolve_policy: Callable[[str], Policy], limits: WireLimits = WireLimits()
) -> list[GuardRequest]:
    """Parse and check a request body; raise WireError on anything malformed or out of limits."""
    if len(body) > limits.max_body_bytes:
        raise WireError(f"body of {len(body)} bytes > limit {limits.max_body_bytes}")
    if len(body) < _PREFIX.size:
        raise WireError("body too short")
    magic, header_len = _PREFIX.unpack_from(body)
    if magic != MAGIC:
        raise WireError("bad magic: not a guardstream wire body")
    if header_len > limits.max_header_bytes or _PREFIX.size + header_len > len(body):
        raise WireError("header length out of range")
    try:
        header = json.loads(body[_PREFIX.size : _PREFIX.size + header_len].decode("utf-8", errors="strict"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WireError(f"header is not UTF-8 JSON: {type(exc).__name__}") from None
    entries = header.get("requests") if isinstance(header, dict) else None
    if not isinstance(entries, list) or not entries:
        raise WireError("header.requests must be a non-empty list")
    if len(entries) > limits.max_requests:
        raise WireError(f"{len(entries)} requests > limit {limits.max_requests}")
    blobs = memoryview(body)[_PREFIX.size + header_len :]
    return [_decode_request(e, blobs, resolve_policy) for e in entries]


def _decode_request(entry: Any, blobs: memoryview, resolve_policy: Callable[[str], Policy]) -> GuardRequest:
    if not isinstance(entry, dict):
        raise WireError("each request must be an object")
    request_id = _text(entry.get("request_id"), "request_id", 256)
    policies = tuple(_policy(p, resolve_policy) for p in _list(entry.get("policies"), "policies"))
    raw_text = entry.get("text") or {}
    if not isinstance(raw_text, dict):
        raise WireError("text must be an object")
    text = TextEvidence(
        **{k: _text(raw_text.get(k, ""), k, MAX_TEXT_CHARS) for k in ("title", "description", "transcript")}
    )
    version = _text(entry.get("policy_set_version", ""), "policy_set_version", 80)
    frames = _frames(entry.get("frames"), blobs)
    return GuardRequest(request_id, frames, policies, text, version)


def _frames(spec: Any, blobs: memoryview) -> Frames:
    if not isinstance(spec, dict):
        raise WireError("frames must be an object")
    if spec.get("dtype") != "uint8":
        raise WireError(f"frames.dtype must be uint8 (no float tensors, so no NaN/inf); got {spec.get('dtype')!r}")
    shape = _list(spec.get("shape"), "frames.shape")
    if len(shape) != 4 or shape[3] != 3 or any(not isinstance(d, int) or d < 0 for d in shape):
        raise WireError("frames.shape must be [N, H, W, 3] of non-negative integers")
    offset, nbytes = spec.get("offset"), spec.get("nbytes")
    expected = int(np.prod(shape, dtype=np.int64))
    if not isinstance(offset, int) or not isinstance(nbytes, int) or nbytes != expected:
        raise WireError("frames.offset/nbytes must be integers and nbytes must equal prod(shape)")
    if offset < 0 or offset + nbytes > len(blobs):
        raise WireError("frames blob lies outside the body")
    pixels = np.frombuffer(blobs[offset : offset + nbytes], dtype=np.uint8).reshape(shape)
    timestamps = _list(spec.get("timestamps_s"), "frames.timestamps_s")
    indices = _list(spec.get("indices"), "frames.indices")
    if not all(isinstance(t, int | float) and not isinstance(t, bool) for t in timestamps):
        raise WireError("frames.timestamps_s must be numbers")
    if not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in indices):
        raise WireError("frames.indices must be non-negative integers")
    try:
        return Frames(pixels, tuple(float(t) for t in timestamps), tuple(indices))
    except ValueError as exc:
        raise WireError(str(exc)) from None


def _policy(value: Any, resolve_policy: Callable[[str], Policy]) -> Policy:
    if isinstance(value, str):
        try:
            return resolve_policy(value)
        except KeyError:
            raise WireError(f"unknown policy id {value[:64]!r}") from None
    try:
        return Policy.model_validate(value)
    except ValidationError as exc:
        raise WireError(f"invalid policy: {exc.errors()[0]['msg']}") from None


def _list(value: Any, name: str) -> list[Any]:
    if not isinstance(value, list):
        raise WireError(f"{name} must be a list")
    return value


def _text(value: Any, name: str, max_chars: int) -> str:
    if not isinstance(value, str):
        raise WireError(f"{name} must be a string")
    if len(value) > max_chars:
        raise WireError(f"{name} longer than {max_chars} characters")
    return value


def result_to_dict(result: GuardResult) -> dict[str, Any]:
    scores = [
        {
            "policy_id": s.policy_id,
            "probability": s.probability,
            "explanation": s.explanation,
            "evidence": s.evidence.model_dump(mode="json"),
        }
        for s in result.scores
    ]
    out = {"request_id": result.request_id, "scores": scores, "error": result.error, "timings_ms": result.timings_ms}
    if isinstance(result, PlanResult):
        out["plan"] = plan_result_to_dict(result)
    return out


def result_from_dict(raw: dict[str, Any]) -> GuardResult:
    scores = tuple(
        PolicyScore(
            s["policy_id"], float(s["probability"]), s.get("explanation"), Evidence.model_validate(s["evidence"])
        )
        for s in raw.get("scores", [])
    )
    base = GuardResult(str(raw["request_id"]), scores, raw.get("error"), dict(raw.get("timings_ms") or {}))
    return plan_result_from_dict(base, raw["plan"]) if isinstance(raw.get("plan"), dict) else base


def encode_results(results: Sequence[GuardResult]) -> bytes:
    return json.dumps({"results": [result_to_dict(r) for r in results]}, separators=(",", ":")).encode("utf-8")


def decode_results(body: bytes) -> list[GuardResult]:
    raw = json.loads(body.decode("utf-8"))
    if "error" in raw and "results" not in raw:
        raise WireError(str(raw["error"]))
    return [result_from_dict(r) for r in raw["results"]]
