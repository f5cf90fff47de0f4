"""The faults of the campaign. Each injects one failure into the running stack and returns once it is in
place; recovery is left to what production would have: the stack supervisor restarts dead components (on
their ports), the job runner restarts a dead job (as Flink / a k8s Deployment would), Serve restarts replicas.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import psutil

from guardstream.pipeline.processes import kill_group
from guardstream.pipeline.stack_state import StackState

if TYPE_CHECKING:
    from guardstream.pipeline.chaos.campaign import Campaign

PAUSE_S = 35.0  # past kafka-python's 30 s request timeout
LAKE_WRITERS, LAKE_WRITER_S = 3, 20.0


@dataclass(frozen=True)
class Fault:
    name: str
    description: str
    inject: Callable[[Campaign], None]


def _kill_component(campaign: Campaign, name: str) -> None:
    kill_group(StackState.load(campaign.stack.home).components[name].pid)


def kill_broker(campaign: Campaign) -> None:
    _kill_component(campaign, "kafka")


def kill_object_store(campaign: Campaign) -> None:
    _kill_component(campaign, "objectstore")


def kill_ray_head(campaign: Campaign) -> None:
    """The head and every Ray process with it; once the supervisor has it back, the app is redeployed."""
    _kill_component(campaign, "ray")
    campaign.wait_stack_healthy()
    campaign.deploy()
    campaign.job.restart("ray head replaced")


def kill_serve_replica(campaign: Campaign) -> None:
    replicas = [
        p for p in psutil.process_iter(["pid", "cmdline"])
        if any("ServeReplica:" in part and ":guard_" in part for part in (p.info["cmdline"] or []))
    ]  # fmt: skip
    if not replicas:
        raise RuntimeError("no guard replica process found")
    os.kill(replicas[0].pid, signal.SIGKILL)


def kill_streaming_job(campaign: Campaign) -> None:
    campaign.job.kill()


def pause_broker(campaign: Campaign) -> None:
    """SIGSTOP tansu past the clients' request timeout, then SIGCONT (the supervisor sees it alive)."""
    pid = StackState.load(campaign.stack.home).components["kafka"].pid
    os.killpg(pid, signal.SIGSTOP)
    time.sleep(PAUSE_S)
    os.killpg(pid, signal.SIGCONT)


def _writer(campaign: Campaign, stop_at: float, seed: int) -> None:
    from guardstream.pipeline.chaos.verdicts import synthetic_verdict

    lake = campaign.stack.open_lake()
    i = 0
    while time.monotonic() < stop_at:
        lake.write_verdicts([synthetic_verdict(f"chaos-writer-{seed}-{uuid.uuid4().hex[:6]}-{i}")])
        i += 1


def lake_writers(campaign: Campaign) -> None:
    stop_at = time.monotonic() + LAKE_WRITER_S
    threads = [threading.Thread(target=_writer, args=(campaign, stop_at, n), daemon=True) for n in range(LAKE_WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(LAKE_WRITER_S + 60)


FAULTS: dict[str, Fault] = {
    f.name: f
    for f in (
        Fault("kill_broker", "kill -9 tansu", kill_broker),
        Fault("kill_object_store", "kill -9 SeaweedFS (broker log, lake, media)", kill_object_store),
        Fault("kill_ray_head", "kill -9 the Ray head; redeploy the guard app, restart the job", kill_ray_head),
        Fault("kill_serve_replica", "kill -9 one guard replica", kill_serve_replica),
        Fault("kill_streaming_job", "kill -9 the streaming job", kill_streaming_job),
        Fault("pause_broker", f"SIGSTOP tansu for {PAUSE_S:.0f} s", pause_broker),
        Fault("lake_writers", f"{LAKE_WRITERS} conflicting lake writers for {LAKE_WRITER_S:.0f} s", lake_writers),
    )
}
