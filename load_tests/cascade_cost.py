"""The cascade's cost per upload vs running every guard on every upload — `cascade_vs_all_guards` of
`guardstream bench guards`. Same process, same uploads, same loaded guards: the plan as written (cheap guards on
every upload, the explaining VLM only for the policies they flag or are unsure about) against the same plan with
every stage run on every upload. Rounds interleave the two so contention hits both alike; medians are compared.

Uploads: mostly benign pictures (the shared ThreatExchange photos and clip frames when ../shared/media exists,
else smooth synthetic scenes), and a share with harmful on-screen text (scam / threat phrases the text guard
flags). No sexual or violent imagery is made or used."""

from __future__ import annotations

import argparse
import random
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

SHARED_MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media"
HARMFUL_TEXT = (
    "Send 0.5 BTC now and get 1 BTC back, giveaway ends tonight",
    "Your bank account is frozen, reply with your PIN to unlock it",
    "I will find you and hurt you, watch your back",
    "Pay a small fee now to release your inheritance of 2 million",
)


def add_cascade_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("cascade_vs_all_guards")
    group.add_argument("--cascade-uploads", type=int, default=10, help="uploads per round")
    group.add_argument("--cascade-flagged-share", type=float, default=0.1, help="share with harmful on-screen text")
    group.add_argument("--cascade-rounds", type=int, default=1, help="timed interleaved rounds (after a warm-up)")
    group.add_argument("--cascade-frames", type=int, default=8, help="frames per upload (sampling default)")
    group.add_argument("--cascade-plan", default="default", help="plan id in the policy pack")
    group.add_argument(
        "--cascade-checkpoint", type=Path, default=Path(".guardstream/cache/safewatch-mid"),
        help="explaining guard's checkpoint (the mid random one is generated here when absent)",
    )  # fmt: skip
    group.add_argument("--cascade-threads", type=int, default=2, help="torch intra-op threads")


def benign_frames(n_frames: int, rng: random.Random, size: int = 224) -> np.ndarray:
    """Harmless pictures: shared reference photos / clip frames when present, else smooth synthetic scenes."""
    photos = sorted((SHARED_MEDIA / "pdq").glob("*.jpg")) if SHARED_MEDIA.is_dir() else []
    if photos:
        from PIL import Image

        image = Image.open(rng.choice(photos)).convert("RGB").resize((size, size))
        still = np.asarray(image, dtype=np.uint8)
    else:
        y, x = np.mgrid[0:size, 0:size] / size
        hue = rng.random()
        still = (np.stack([y * 200 + 30 * hue, x * 180, (1 - y) * 150 + 60 * hue], -1)).astype(np.uint8)
    jitter = [np.roll(still, rng.randint(-8, 8), axis=1) for _ in range(n_frames)]
    return np.stack(jitter)


def make_uploads(n: int, flagged_share: float, n_frames: int, seed: int = 11) -> tuple[list[Any], set[str]]:
    """`n` requests over the default set; round(n × share) carry a harmful phrase on screen. Returns (requests,
    ids of the harmful ones)."""
    from guardstream.engines.base import Frames, GuardRequest
    from guardstream.engines.text.labelled_set import render_frame
    from guardstream.schemas.policy import load_policy_pack

    policy_set = load_policy_pack().policy_set("default")
    rng = random.Random(seed)
    harmful = set(rng.sample(range(n), round(n * flagged_share)))
    requests, harmful_ids = [], set()
    for i in range(n):
        pixels = benign_frames(n_frames, rng)
        if i in harmful:
            pixels[-1] = render_frame(HARMFUL_TEXT[i % len(HARMFUL_TEXT)], rng, size=pixels.shape[1])
            harmful_ids.add(f"cascade-{i}")
        frames = Frames(pixels, tuple(float(t) for t in range(n_frames)), tuple(range(n_frames)))
        requests.append(
            GuardRequest(f"cascade-{i}", frames, policy_set.policies, policy_set_version=policy_set.version)
        )
    return requests, harmful_ids


def _plans(args: argparse.Namespace) -> tuple[Any, Any]:
    """(cascade, every stage always) from the pack's plan with the explaining guard switched on."""
    from guardstream.engines.base import registered_guards
    from guardstream.engines.plan.compile import compile_plan, plan_for
    from guardstream.schemas.plan import StageRun
    from guardstream.schemas.policy import load_policy_pack

    pack = load_policy_pack()
    plan = plan_for(pack, args.cascade_plan)
    members = [m.guard for s in plan.stages for m in s.guards]
    policy_set = pack.policy_set(plan.policy_set)
    cascade = compile_plan(plan, policy_set, enable=members, registered=registered_guards())
    every = plan.model_copy(
        update={"stages": tuple(s.model_copy(update={"run": StageRun.ALWAYS}) for s in plan.stages)}
    )
    return cascade, compile_plan(every, policy_set, enable=members, registered=registered_guards())


def _guards(plan: Any, checkpoint: Path) -> dict[str, Any]:
    import inspect

    from guardstream.engines.base import create_guard, guard_class

    guards = {}
    for name in plan.guards:
        takes = "checkpoint" in inspect.signature(guard_class(name).__init__).parameters
        kwargs: dict[str, Any] = {"checkpoint": checkpoint} if takes else {}  # each guard's default settings
        guards[name] = create_guard(name, **kwargs)
        guards[name].load()
    return guards


def measure_cascade(args: argparse.Namespace) -> dict[str, Any]:
    """The `cascade_vs_all_guards` block: seconds per upload of both paths, their ratio, flagged / escalated
    shares, which guards ran how often."""
    import torch

    from guardstream.engines.base import score_fail_closed
    from guardstream.engines.plan.local import PlanGuard
    from guardstream.engines.safewatch.make_checkpoint import MARKER, make_checkpoint

    torch.set_num_threads(args.cascade_threads)
    if not (args.cascade_checkpoint / MARKER).is_file() and not (args.cascade_checkpoint / "config.json").is_file():
        make_checkpoint(args.cascade_checkpoint, "mid")
    cascade_plan, every_plan = _plans(args)
    guards = _guards(cascade_plan, args.cascade_checkpoint)
    cascade, every = PlanGuard(cascade_plan, guards), PlanGuard(every_plan, guards)
    cascade.resolve_version()
    every.resolve_version()
    requests, harmful = make_uploads(args.cascade_uploads, args.cascade_flagged_share, args.cascade_frames)
    times: dict[str, list[float]] = {"cascade": [], "all_guards": []}
    results: dict[str, list[Any]] = {}
    warm = [requests[0], next(r for r in requests if r.request_id in harmful)] if harmful else requests[:1]
    for plan_guard in (cascade, every):  # warm-up: first calls of every guard (and the explainer's priors)
        score_fail_closed(plan_guard, warm)
    for _ in range(args.cascade_rounds):
        for name, plan_guard in (("cascade", cascade), ("all_guards", every)):
            started = time.perf_counter()
            results[name] = score_fail_closed(plan_guard, requests)
            times[name].append((time.perf_counter() - started) / len(requests))
    return _summary(args, cascade_plan, times, results, harmful)


def _summary(args: argparse.Namespace, plan: Any, times: dict[str, list[float]], results: dict[str, list[Any]],
             harmful: set[str]) -> dict[str, Any]:  # fmt: skip
    def flagged(result: Any) -> bool:
        review = {p.id: p.thresholds.review for p in plan.policy_set.policies}
        return any(s.probability >= review[s.policy_id] for s in result.scores)

    later = {m.guard for s in plan.stages[1:] for m in s.members}
    cascade_results = results["cascade"]
    escalated = [r for r in cascade_results if any(c.guard in later for c in r.guards_run)]
    calls: dict[str, int] = {}
    for result in cascade_results:
        for call in result.guards_run:
            calls[call.guard] = calls.get(call.guard, 0) + 1
    cascade_s, all_s = statistics.median(times["cascade"]), statistics.median(times["all_guards"])
    return {
        "ratio": round(all_s / cascade_s, 2),
        "cascade_s_per_upload": round(cascade_s, 4),
        "all_guards_s_per_upload": round(all_s, 4),
        "cascade_s_per_upload_rounds": [round(t, 4) for t in times["cascade"]],
        "all_guards_s_per_upload_rounds": [round(t, 4) for t in times["all_guards"]],
        "uploads": len(cascade_results),
        "harmful_text_share": round(len(harmful) / len(cascade_results), 3),
        "flagged_share": round(sum(map(flagged, cascade_results)) / len(cascade_results), 3),
        "escalated_share": round(len(escalated) / len(cascade_results), 3),
        "guard_calls_per_upload": {g: round(n / len(cascade_results), 3) for g, n in calls.items()},
        "stages": [{"name": s.name, "run": s.run.value, "guards": [m.guard for m in s.members]} for s in plan.stages],
        "frames_per_upload": args.cascade_frames,
        "explainer_checkpoint": str(args.cascade_checkpoint),
        "target": ">= 3x cheaper with <= 10% of uploads flagged",
        "definition": "median over rounds of wall s/upload: every stage on every upload ÷ the cascade (same uploads, "
        "same loaded guards, rounds interleaved)",
    }
