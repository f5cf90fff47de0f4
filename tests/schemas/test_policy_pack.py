"""The default policy pack loads; broken packs fail at load with a message naming the field."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from guardstream.schemas import DEFAULT_PACK, PolicyPackError, load_policy_pack, parse_policy_pack


@pytest.fixture(scope="module")
def raw_pack() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(DEFAULT_PACK.read_text())
    return data


def test_default_pack_covers_the_six_safewatch_categories() -> None:
    pack = load_policy_pack()
    policies = pack.policy_set("default").policies
    assert {p.category for p in policies} == {"C1", "C2", "C3", "C4", "C5", "C6"}
    assert all(len([p for p in policies if p.category == c]) >= 2 for c in ("C1", "C2", "C3", "C4", "C5", "C6"))
    for policy in policies:
        assert policy.thresholds.review <= policy.thresholds.auto_action
        assert policy.blocked and policy.examples_violating


def test_policy_set_version_is_a_content_hash(raw_pack: dict[str, Any]) -> None:
    original = parse_policy_pack(raw_pack).policy_set("default")
    assert original.version == parse_policy_pack(copy.deepcopy(raw_pack)).policy_set("default").version
    edited = copy.deepcopy(raw_pack)
    edited["policy_sets"][0]["policies"][0]["thresholds"]["review"] = 0.51
    assert parse_policy_pack(edited).policy_set("default").version != original.version


def test_policy_set_version_in_input_is_verified(raw_pack: dict[str, Any]) -> None:
    data = copy.deepcopy(raw_pack)
    data["policy_sets"][0]["version"] = "sha256:0000000000000000"
    with pytest.raises(PolicyPackError, match="version"):
        parse_policy_pack(data)


def _break(raw: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(raw)
    *parents, last = path.split(".")
    node: Any = data
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    if value is _DELETE:
        del node[int(last) if last.isdigit() else last]
    else:
        node[int(last) if last.isdigit() else last] = value
    return data


_DELETE = object()

BROKEN = [
    ("policy_sets.0.policies.2.definition", _DELETE, "policy_sets.0.policies.2.definition"),
    ("policy_sets.0.policies.0.thresholds.review", 1.5, "policy_sets.0.policies.0.thresholds.review"),
    ("policy_sets.0.policies.1.thresholds", {"review": 0.9, "auto_action": 0.5}, "review must be <="),
    ("policy_sets.0.policies.3.severity", "apocalyptic", "policy_sets.0.policies.3.severity"),
    ("policy_sets.0.policies.4.category", "X9", "policy_sets.0.policies.4.category"),
    ("policy_sets.0.policies.5.blocked", [], "policy_sets.0.policies.5.blocked"),
    ("policy_sets.0.policies.6.id", "c1.explicit", "duplicate policy id"),
    ("policy_sets.0.policies.0.colour", "red", "policy_sets.0.policies.0.colour"),
    ("routing.rules.0.policy_set", "nope", "routing.rules[0].policy_set"),
    ("routing.allowed_overrides", ["ghost"], "ghost"),
    ("policy_sets", [], "policy_sets"),
]


@pytest.mark.parametrize(("path", "value", "needle"), BROKEN, ids=[b[0] + ":" + str(b[1])[:12] for b in BROKEN])
def test_broken_pack_error_names_the_field(raw_pack: dict[str, Any], path: str, value: Any, needle: str) -> None:
    with pytest.raises(PolicyPackError) as info:
        parse_policy_pack(_break(raw_pack, path, value), source="broken.yaml")
    assert needle in str(info.value)
    assert "broken.yaml" in str(info.value)


def test_unreadable_pack_file_is_a_pack_error(tmp_path: Path) -> None:
    bad = tmp_path / "pack.yaml"
    bad.write_text("policy_sets: [unclosed")
    with pytest.raises(PolicyPackError, match=r"cannot read policy pack .*pack\.yaml"):
        load_policy_pack(bad)
    with pytest.raises(PolicyPackError, match="cannot read"):
        load_policy_pack(tmp_path / "missing.yaml")


def test_routing_first_match_wins() -> None:
    from guardstream.schemas import RoutingRule

    rule = RoutingRule(tenant="acme", surface="*", region="EU", policy_set="default")
    assert rule.matches("acme", "feed", "EU")
    assert not rule.matches("acme", "feed", "US")
