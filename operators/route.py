"""RoutePolicies: tenant / surface / region → the policy set that applies (and its version).

An upload may ask for a policy set only from the routing table's allowed overrides; a tenant the table does not
list (unless it lists "*") or a disallowed override is a dead letter, never a silent default.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

import apache_beam as beam

from guardstream.operators.envelope import Envelope
from guardstream.schemas.dead_letter import DeadLetter, Stage
from guardstream.schemas.policy import PolicyPack, PolicySet
from guardstream.schemas.upload import UploadEvent

FAILED = "failed"


class RoutingError(ValueError):
    """The upload cannot be routed to a policy set."""


class Routed(NamedTuple):
    uploads: beam.PCollection[Envelope]  # with .policy_set_id set
    failed: beam.PCollection[DeadLetter]


def shadow_sets(event: UploadEvent, pack: PolicyPack) -> tuple[str, ...]:
    """The shadow policy sets of the first rule matching this upload (none for overrides)."""
    if event.policy_set_override is not None:
        return ()
    for rule in pack.routing.rules:
        if rule.matches(event.tenant, event.surface, event.region):
            return rule.shadow
    return ()


def route(event: UploadEvent, pack: PolicyPack) -> PolicySet:
    """The policy set for this upload: an allowed override, else the first matching rule."""
    table = pack.routing
    if "*" not in table.known_tenants and event.tenant not in table.known_tenants:
        raise RoutingError(f"unknown tenant {event.tenant!r}")
    if event.policy_set_override is not None:
        if event.policy_set_override not in table.allowed_overrides:
            raise RoutingError(f"policy_set_override {event.policy_set_override!r} is not an allowed override")
        return pack.policy_set(event.policy_set_override)
    for rule in table.rules:
        if rule.matches(event.tenant, event.surface, event.region):
            return pack.policy_set(rule.policy_set)
    raise RoutingError(f"no routing rule matches tenant/surface/region of upload {event.upload_id}")


class _RouteFn(beam.DoFn):
    def __init__(self, pack: PolicyPack) -> None:
        self.pack = pack

    def process(self, envelope: Envelope) -> Iterator[Any]:
        assert envelope.event is not None, "RoutePolicies runs after ParseUploads"
        try:
            policy_set = route(envelope.event, self.pack)
        except RoutingError as exc:
            yield beam.pvalue.TaggedOutput(FAILED, envelope.dead_letter(Stage.ROUTE, exc))
            return
        yield envelope.with_policy_set(policy_set.id)
        for shadow in shadow_sets(envelope.event, self.pack):
            yield envelope.with_policy_set(shadow, shadow=True)


class RoutePolicies(beam.PTransform[beam.PCollection[Envelope], Routed]):
    """Attach the applicable policy set id to each envelope; unroutable uploads leave through `failed`."""

    def __init__(self, pack: PolicyPack) -> None:
        super().__init__()
        self.pack = pack

    # Any, not the element type: Beam reads expand's annotations as runtime type hints (checks and coders).
    def expand(self, envelopes: beam.PCollection[Any]) -> Routed:
        results = envelopes | beam.ParDo(_RouteFn(self.pack)).with_outputs(FAILED, main="uploads")
        return Routed(uploads=results.uploads, failed=results[FAILED])
