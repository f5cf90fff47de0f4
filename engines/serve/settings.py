"""Ray and guard-app settings: the sections the Serve app and its clients read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from guardstream.schemas._base import Section
from guardstream.schemas.policy import DEFAULT_PACK


class RaySettings(Section):
    address: str | None = Field(default=None, description="None → the local stack's Ray head.")
    num_cpus: int | None = Field(default=None, description="CPUs the local head advertises (None: all).")
    object_store_memory_mb: int = 512
    serve_http_host: str = "127.0.0.1"
    serve_http_port: int = 0
    app_name: str = "guardstream"


class MemberSettings(Section):
    """Per-guard overrides in a plan app; unset fields fall back to the guard section's values."""

    guard_kwargs: dict[str, Any] | None = None
    num_replicas: int | None = Field(default=None, ge=1)
    num_cpus: float | None = Field(default=None, gt=0)
    max_batch_size: int | None = Field(default=None, ge=1)


class GuardSettings(Section):
    plan: str | None = Field(
        default="default", description="Guard plan (policy pack `plans:`) the Serve app composes; None: `name` alone."
    )
    enable: tuple[str, ...] = Field(default=(), description="Plan members to switch on that the pack leaves off.")
    members: dict[str, MemberSettings] = Field(default_factory=dict, description="Per-member replicas/CPUs/kwargs.")
    name: str = Field(default="text", description="Registry name of the guard the Serve app hosts (no plan).")

    @field_validator("plan", mode="before")
    @classmethod
    def _no_plan(cls, value: object) -> object:
        """`GUARDSTREAM_GUARDS__PLAN=` (empty), `none` or `null` mean no plan: the single guard `name`."""
        return None if isinstance(value, str) and value.strip().lower() in ("", "none", "null") else value

    checkpoint: Path | None = Field(default=None, description="Local checkpoint folder for model guards.")
    models_dir: Path = Field(
        default=Path(".guardstream/models"), description="Model files `guardstream models setup` wrote (visual)."
    )
    max_batch_size: int = Field(default=8, ge=1)
    batch_wait_timeout_s: float = Field(default=0.01, ge=0)
    request_timeout_s: float = Field(default=60.0, gt=0)
    policy_pack: Path = DEFAULT_PACK
    num_replicas: int = Field(default=1, ge=1, description="Serve replicas of the guard deployment.")
    replica_num_cpus: float = Field(default=1.0, gt=0, description="CPUs reserved per guard replica.")
    http_route_prefix: str = Field(default="/guard", description="HTTP route of the guard app (loopback).")
