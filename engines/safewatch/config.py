"""Typed, frozen settings of the SafeWatch-style guard (validated at construction)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class Layout(StrEnum):
    """Where the policy chunks sit. PAPER: video → policies → queries (SafeWatch). POLICY_FIRST: policies → video →
    queries, so a policy chunk's KV does not depend on the video and is cached across uploads."""

    PAPER = "paper"
    POLICY_FIRST = "policy_first"


class Mode(StrEnum):
    """ONE_PREFILL: score every policy in one forward pass, explain only flagged policies.
    GENERATE_EVERYTHING: the SafeWatch baseline — describe, emit guardrail JSON and explanations for every upload."""

    ONE_PREFILL = "one_prefill"
    GENERATE_EVERYTHING = "generate_everything"


class Debias(StrEnum):
    """CONTENT_FREE: subtract each policy's Yes/No log-odds on a content-free input. NONE: raw Yes/No softmax."""

    CONTENT_FREE = "content_free"
    NONE = "none"


class SafeWatchConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    checkpoint: Path | None = Field(default=None, description="Local checkpoint folder (config, weights, tokenizer).")
    layout: Layout = Layout.PAPER
    mode: Mode = Mode.ONE_PREFILL
    debias: Debias = Debias.CONTENT_FREE
    pap_keep_ratio: float = Field(default=1.0, gt=0.0, le=1.0, description="Share of visual tokens kept by PAP.")
    pap_layer: int = Field(default=2, ge=0, description="Decoder layer whose attention ranks visual tokens.")
    explain_max_new_tokens: int = Field(default=48, ge=1, le=512)
    baseline_max_new_tokens: int = Field(default=64, ge=1, le=1024)
    policy_cache_entries: int = Field(default=256, ge=0, description="Policy-chunk KV cache size (policy-first).")
    max_frame_edge: int = Field(default=448, ge=16, description="Frames are resized so no edge exceeds this.")
    evidence_max_frames: int = Field(default=8, ge=1)
    model_version: str | None = Field(default=None, description="Overrides the checkpoint fingerprint in cache keys.")
    torch_threads: int | None = Field(default=None, ge=1)
