"""Shadow policy sets in the stream: a routing rule's `shadow` sets are validated with the pack and fan each
matching upload out to one extra, shadow-marked envelope per set (scored and recorded, never published)."""

from __future__ import annotations

import apache_beam as beam
import pytest
import yaml
from apache_beam.testing.util import assert_that, equal_to

from guardstream.operators.envelope import Envelope
from guardstream.operators.route import RoutePolicies, shadow_sets
from guardstream.schemas.policy import DEFAULT_PACK, PolicyPack, PolicyPackError, parse_policy_pack
from tests.conftest import make_event


def pack_with_shadow(shadow: list[str]) -> PolicyPack:
    data = yaml.safe_load(DEFAULT_PACK.read_text())
    live = data["policy_sets"][0]
    data["policy_sets"].append({**live, "id": "candidate", "description": "next version, on trial"})
    for rule in data["routing"]["rules"]:
        rule["shadow"] = shadow
    return parse_policy_pack(data)


def test_shadow_sets_must_name_another_set_of_the_pack() -> None:
    assert pack_with_shadow(["candidate"]).routing.rules[0].shadow == ("candidate",)
    with pytest.raises(PolicyPackError, match="shadow 'nope' names no other policy set"):
        pack_with_shadow(["nope"])
    live = yaml.safe_load(DEFAULT_PACK.read_text())["policy_sets"][0]["id"]
    with pytest.raises(PolicyPackError, match="names no other policy set"):
        pack_with_shadow([live])


def test_routing_fans_out_one_shadow_envelope_per_shadow_set() -> None:
    pack = pack_with_shadow(["candidate"])
    event = make_event(1)
    assert shadow_sets(event, pack) == ("candidate",)
    live = pack.routing.rules[0].policy_set
    with beam.Pipeline() as root:
        routed = root | beam.Create([Envelope(payload=b"e", event=event)]) | RoutePolicies(pack)
        pairs = routed.uploads | beam.Map(lambda e: (e.policy_set_id, e.shadow))
        assert_that(pairs, equal_to([(live, False), ("candidate", True)]))
