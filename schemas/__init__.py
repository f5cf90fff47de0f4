"""Every contract that crosses a process boundary. Imports nothing from Beam, Ray or torch."""

from guardstream.schemas.dead_letter import DeadLetter, Stage
from guardstream.schemas.plan import GuardPlan
from guardstream.schemas.policy import (
    DEFAULT_PACK,
    EnforcementAction,
    Policy,
    PolicyPack,
    PolicyPackError,
    PolicySet,
    RoutingRule,
    RoutingTable,
    Severity,
    Thresholds,
    load_policy_pack,
    parse_policy_pack,
)
from guardstream.schemas.upload import MediaType, Priority, UploadEvent
from guardstream.schemas.verdict import (
    Action,
    Evidence,
    GuardRun,
    GuardScore,
    HashMatch,
    Latency,
    PolicyResult,
    Verdict,
    VerdictStatus,
    idempotency_key,
)

__all__ = [
    "DEFAULT_PACK",
    "Action",
    "DeadLetter",
    "EnforcementAction",
    "Evidence",
    "GuardPlan",
    "GuardRun",
    "GuardScore",
    "HashMatch",
    "Latency",
    "MediaType",
    "Policy",
    "PolicyPack",
    "PolicyPackError",
    "PolicyResult",
    "PolicySet",
    "Priority",
    "RoutingRule",
    "RoutingTable",
    "Severity",
    "Stage",
    "Thresholds",
    "UploadEvent",
    "Verdict",
    "VerdictStatus",
    "idempotency_key",
    "load_policy_pack",
    "parse_policy_pack",
]
