"""Fault campaign: one fault at a time while a bounded, seeded upload stream flows through the real job;
each fault is reconciled against the lake (every produced upload id → exactly one verdict or dead letter)."""

from guardstream.pipeline.chaos.campaign import Campaign, FaultReport
from guardstream.pipeline.chaos.faults import FAULTS

__all__ = ["FAULTS", "Campaign", "FaultReport"]
