"""Process helpers for the local stack: loopback ports, liveness, spawning in a new session, stopping a group."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import structlog

__all__ = [
    "StackError", "free_port", "free_port_range", "group_alive", "pid_alive", "port_free", "port_open", "spawn",
    "stop_process_group", "wait",
]  # fmt: skip

log = structlog.get_logger(__name__)


class StackError(RuntimeError):
    """A component failed to start or answer in time."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on `host` right now (loopback by default)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when `port` can be bound on `host` now (used to restart a component on its old ports)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers bind: TIME_WAIT does not block
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def free_port_range(count: int, low: int = 20000, high: int = 32000) -> int:
    """The first port of `count` consecutive free loopback ports below the ephemeral range (random start)."""
    for _ in range(200):
        base = random.randrange(low, high - count)
        if all(port_free(p) for p in range(base, base + count)):
            return base
    raise StackError(f"no {count} consecutive free ports between {low} and {high}")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):
        status = Path(f"/proc/{pid}/status").read_text()
        if "\nState:\tZ" in status:
            return False
    return True


def wait(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise StackError(f"{what} did not become ready within {timeout_s:.0f}s")


def spawn(name: str, argv: list[str], log_path: Path, env: dict[str, str] | None = None) -> int:
    """Start `argv` in its own session (so its whole group can be stopped), output appended to `log_path`."""
    with open(log_path, "ab") as out:
        proc = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )
    log.info("stack.spawn", component=name, pid=proc.pid)
    return proc.pid


def group_alive(pgid: int) -> bool:
    """True while any process of the group still exists (zombies of our own children are reaped first)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pgid, os.WNOHANG)
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def kill_group(pgid: int, timeout_s: float = 10.0) -> None:
    """SIGKILL the process group `pgid` and return once it is gone. `killpg` returns before the kernel has torn
    the processes down, so a health check right after it can still see their ports open (seen in CI: a killed
    store looked healthy, was not restarted, and the broker on it never answered)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
    wait(lambda: not group_alive(pgid), timeout_s, f"process group {pgid} to die")


def stop_process_group(pgid: int, grace_s: float = 15.0) -> None:
    """SIGTERM the process group `pgid`, then SIGKILL whatever is left of it after `grace_s`."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and group_alive(pgid):
            time.sleep(0.1)
        if not group_alive(pgid):
            return
