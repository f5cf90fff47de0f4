"""Hash-matching settings: the section the hashing stage, the bank store and the hash / match / banks CLI read."""

from __future__ import annotations

from pydantic import Field

from guardstream.schemas._base import Section


class HashingSettings(Section):
    enabled: bool = Field(default=True, description="Hash uploads and match them against the banks before the guards.")
    seconds_per_hash: float = Field(default=1.0, ge=0, description="vPDQ frame interval for uploads (0: every frame).")
    bank_seconds_per_hash: float = Field(
        default=0.0, ge=0, description="vPDQ frame interval for banked videos (0: every frame, as the reference)."
    )
    quality: int = Field(default=50, ge=0, le=100, description="Frames / images under this PDQ quality never match.")
    pdq_threshold: int = Field(default=31, ge=0, le=128, description="Default bank threshold (PDQ distance, ≤).")
    vpdq_query_match_pct: float = Field(default=80.0, ge=0, le=100, description="Share of the upload's frames.")
    vpdq_compared_match_pct: float = Field(default=0.0, ge=0, le=100, description="Share of the banked video's.")
    also_run_guards: bool = Field(default=False, description="Audit mode: matched uploads still go to the guards.")
    cache_entries: int = Field(default=10_000, ge=0, description="Signals kept by content sha256 per worker.")
    refresh_s: float = Field(default=5.0, ge=0, description="How often the stage checks for a new bank version.")
    table: str = Field(default="hash_banks", description="Iceberg table (in the lake's namespace) holding the banks.")
