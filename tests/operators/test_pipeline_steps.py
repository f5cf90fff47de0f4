"""The streaming job's own steps, on Beam's real runner: parse, route, fail-closed inference, verdict
assembly, and the offset ledger that decides what may be committed."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from guardstream.engines.base import Frames, GuardResult, PolicyScore
from guardstream.operators.aggregate import build_verdict, policy_action
from guardstream.operators.envelope import Envelope
from guardstream.operators.frames import SampledMedia
from guardstream.operators.infer import GuardServeHandler, InferVerdicts, ServeTarget, failure_reason
from guardstream.operators.offsets import OffsetLedger
from guardstream.operators.parse import ParseUploads, parse_upload
from guardstream.operators.route import RoutePolicies, RoutingError, route
from guardstream.schemas import Action, DeadLetter, load_policy_pack
from guardstream.schemas.dead_letter import MAX_PAYLOAD_BYTES
from tests.conftest import make_event

PACK = load_policy_pack()
POLICY_SET = PACK.policy_set("default")


def _payload(**overrides: object) -> bytes:
    return make_event(1, **overrides).model_dump_json().encode()


def test_parse_dead_letters_every_kind_of_bad_message() -> None:
    messages = [
        _payload(),
        b"\xff\xfe not utf-8",
        b"{not json",
        b"[" * 100_000 + b"]" * 100_000,  # nested past Python's recursion limit
        b"[1, 2]",
        json.dumps({**json.loads(_payload()), "media_type": "audio", "secret_extra_key": 1}).encode(),
    ]
    with TestPipeline(runner="FnApiRunner") as p:
        parsed = p | beam.Create(
            [Envelope(payload=m, topic="t", partition=0, offset=i) for i, m in enumerate(messages)]
        )
        result = parsed | ParseUploads()
        ok = result.uploads | "ids" >> beam.Map(lambda e: e.event.upload_id)
        stages = result.failed | "stages" >> beam.Map(lambda d: (d.source_offset, d.stage.value))
        echoed = result.failed | "echo" >> beam.Map(lambda d: "secret_extra_key" in d.message)
        assert_that(ok, equal_to(["up-00001"]), label="ok")
        expected = [(1, "parse"), (2, "parse"), (3, "parse"), (4, "parse"), (5, "validate")]
        assert_that(stages, equal_to(expected), label="failed")
        assert_that(echoed, equal_to([False] * 5), label="no-echo")


def test_parse_upload_names_the_field() -> None:
    with pytest.raises(ValueError, match="nested too deeply"):
        parse_upload(b"[" * 100_000)


def test_dead_letter_keeps_a_large_payload_head_size_and_digest() -> None:
    big = b"x" * (MAX_PAYLOAD_BYTES + 10)
    letter = Envelope(payload=big, topic="t", partition=2, offset=9).dead_letter(stage="parse", error="too big")
    assert letter.payload_truncated and letter.payload_size == len(big) and len(letter.payload) == MAX_PAYLOAD_BYTES
    assert letter.dead_letter_id == "t|2|9|parse"
    assert DeadLetter.model_validate_json(letter.model_dump_json()) == letter


def test_route_first_match_override_and_unknown_tenant() -> None:
    assert route(make_event(1), PACK).id == "default"
    assert route(make_event(1, policy_set_override="default"), PACK).id == "default"
    strict = PACK.model_copy(update={"routing": PACK.routing.model_copy(update={"known_tenants": ("other",)})})
    with pytest.raises(RoutingError, match="unknown tenant"):
        route(make_event(1), strict)
    with TestPipeline(runner="FnApiRunner") as p:
        envs = p | beam.Create([Envelope(payload=b"{}", event=make_event(1))])
        routed = envs | RoutePolicies(strict)
        assert_that(routed.failed | beam.Map(lambda d: (d.stage.value, d.upload_id)), equal_to([("route", "up-00001")]))


def test_thresholds_to_actions_and_most_restrictive_wins() -> None:
    scam = POLICY_SET.policy("c4.scam")  # review 0.5, auto 0.85, action block
    assert [policy_action(scam, p) for p in (0.2, 0.5, 0.85)] == [Action.ALLOW, Action.REVIEW, Action.BLOCK]
    scores = {p.id: 0.0 for p in POLICY_SET.policies} | {"c4.misinformation": 0.9, "c3.violence": 0.6}
    result = GuardResult("up-00001", tuple(PolicyScore(k, v, explanation="why") for k, v in scores.items()))
    verdict = build_verdict(
        event=make_event(1), policy_set=POLICY_SET, guard_name="g", guard_version="1", result=result
    )
    assert verdict.action is Action.REVIEW  # label (misinformation) < review (violence at 0.6)
    assert {r.policy_id for r in verdict.flagged} == {"c4.misinformation", "c3.violence"}


@pytest.mark.parametrize(
    "result",
    [None, GuardResult("up-00001", error=""), GuardResult("up-00001", error="boom"), GuardResult("up-00001", ())],
    ids=["no-result", "empty-error", "error", "missing-scores"],
)
def test_any_guard_failure_is_hold_with_a_reason(result: GuardResult | None) -> None:
    verdict = build_verdict(
        event=make_event(1), policy_set=POLICY_SET, guard_name="g", guard_version="1", result=result
    )
    assert verdict.action is Action.HOLD and verdict.status.value == "error" and verdict.error


def test_overlong_explanation_is_cut_not_fatal() -> None:
    scores = tuple(
        PolicyScore(p.id, 0.99 if p.id == "c4.scam" else 0.0, explanation="x" * 5000) for p in POLICY_SET.policies
    )
    verdict = build_verdict(event=make_event(1), policy_set=POLICY_SET, guard_name="g", guard_version="1",
                            result=GuardResult("up-00001", scores))  # fmt: skip
    assert verdict.action is Action.BLOCK and len(verdict.flagged[0].explanation or "") == 2000


class _NoClient:
    pass


class _UnreachableGuard(GuardServeHandler):
    """The guard service answering nothing but errors (what a dead or overloaded Serve app looks like)."""

    def create_client(self) -> Any:
        return _NoClient()

    def request(self, batch: Sequence[Any], model: Any, inference_args: dict[str, Any] | None = None) -> Iterable[Any]:
        raise TimeoutError("guard app did not answer in 60 s")


def test_inference_failure_after_retries_fails_closed_to_hold() -> None:
    target = ServeTarget(ray_address="unused", app_name="x", guard_name="text", guard_version="1")
    frames = Frames(np.zeros((1, 8, 8, 3), np.uint8), (0.0,), (0,))
    sampled = SampledMedia(frames=frames, media_type="image", frames_decoded=1, frames_used=1, decode_s=0.01)
    element = (Envelope(payload=b"{}", event=make_event(3)).with_policy_set("default"), sampled)
    with TestPipeline(runner="FnApiRunner") as p:
        out = p | beam.Create([element]) | InferVerdicts(PACK, target, handler=_UnreachableGuard(target, num_retries=0))
        held = out.held | beam.Map(lambda o: (o.verdict.upload_id, o.verdict.action.value, o.verdict.error))
        reason = "guard inference failed after retries: TimeoutError('guard app did not answer in 60 s')"
        assert_that(held, equal_to([("up-00003", "hold", reason)]))
        assert_that(out.verdicts, equal_to([]), label="no-ok-verdicts")


def test_failure_reason_reads_runinference_error_tuples() -> None:
    reason = failure_reason((TimeoutError, "TimeoutError('x')", ["Traceback ..."]))
    assert reason == "guard inference failed after retries: TimeoutError('x')"
    assert "Traceback" not in failure_reason((TimeoutError, "x", ["Traceback ..."]))


def test_offset_ledger_commits_below_in_flight_and_skips_gaps() -> None:
    ledger = OffsetLedger()
    for offset in (10, 11, 13):  # 12 is a transaction marker the consumer never delivers
        ledger.read(0, offset)
    ledger.done(0, 11)
    assert ledger.advance() == {0: 10}  # 10 still in flight: nothing past it
    ledger.done(0, 10)
    assert ledger.advance() == {0: 13}  # the gap at 12 does not block
    ledger.done(0, 13)
    assert ledger.advance() == {0: 14}
    assert ledger.advance() == {}
