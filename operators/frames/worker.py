"""Decode untrusted media in a child process with a wall-time and memory limit, recycled after N uploads.

A native crash, hang or leak in FFmpeg or decord kills (or gets killed with) the child, never the caller: the
caller gets MediaError(DECODE) and the next upload starts a fresh child.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import resource
import signal
import struct
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import structlog

from guardstream.engines.base import Frames
from guardstream.operators.frames.errors import MediaError
from guardstream.operators.frames.result import SampledMedia
from guardstream.operators.frames.settings import LimitSettings, SamplingSettings
from guardstream.operators.frames.spec import SampleSpec
from guardstream.schemas.dead_letter import Stage

if TYPE_CHECKING:
    from guardstream.operators.frames.hashing import HashRequest

log = structlog.get_logger(__name__)
POLL_S = 0.02
START_TIMEOUT_S = 60.0
ADDRESS_SPACE_HEADROOM_MB = 2048  # VM beyond resident memory: libraries, thread stacks, torch's reservations


def _child_main(conn: Connection, memory_mb: int, backends: tuple[str, ...]) -> None:
    """Child loop: receive (path, spec, sampling, limits), answer ("ok", SampledMedia) or ("error", MediaError)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    limit = (memory_mb + ADDRESS_SPACE_HEADROOM_MB) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    from guardstream.operators.frames.hashing import sample_and_hash_local
    from guardstream.operators.frames.local import sample_local

    _preload(backends)
    conn.send_bytes(_encode({"kind": "ready", "pid": os.getpid()}))
    while True:
        job = conn.recv()  # from the trusted parent
        if job is None:
            return
        work = sample_and_hash_local if len(job) == 5 else sample_local  # 5th element: a HashRequest
        conn.send_bytes(_encode_answer(*_answer(work, job)))


# The child parses hostile media, so what it sends back is data, never pickle: a JSON header and raw pixels.
_HEADER = struct.Struct("!I")


def _encode(header: dict[str, Any], pixels: bytes = b"") -> bytes:
    raw = json.dumps(header, default=str).encode()
    return _HEADER.pack(len(raw)) + raw + pixels


def _encode_answer(status: str, payload: Any, peak_rss_mb: float) -> bytes:
    if status == "error":
        return _encode({"kind": "error", "stage": payload.stage.value, "reason": payload.reason, "peak": peak_rss_mb})
    frames = payload.frames
    pixels = np.ascontiguousarray(frames.pixels, dtype=np.uint8)
    header = {
        "kind": "ok", "peak": peak_rss_mb, "shape": list(pixels.shape),
        "timestamps_s": list(frames.timestamps_s), "indices": list(frames.indices),
        "media_type": payload.media_type, "frames_decoded": payload.frames_decoded,
        "frames_used": payload.frames_used, "decode_s": payload.decode_s, "probe": payload.probe,
        "backend": payload.backend, "spec": payload.spec, "signal": payload.signal,
    }  # fmt: skip
    return _encode(header, pixels.tobytes())


def decode_message(message: bytes) -> tuple[str, Any, float]:
    """Parse a child's answer without unpickling: (status, SampledMedia | MediaError | pid, peak RSS MB)."""
    (size,) = _HEADER.unpack_from(message)
    header = json.loads(message[_HEADER.size : _HEADER.size + size])
    kind = header["kind"]
    if kind == "ready":
        return "ready", int(header["pid"]), 0.0
    if kind == "error":
        return "error", MediaError(Stage(header["stage"]), str(header["reason"])), float(header["peak"])
    shape = tuple(int(n) for n in header["shape"])
    pixels = np.frombuffer(message, dtype=np.uint8, offset=_HEADER.size + size).reshape(shape)
    frames = Frames(pixels, tuple(float(t) for t in header["timestamps_s"]), tuple(int(i) for i in header["indices"]))
    media = SampledMedia(
        frames=frames, media_type=str(header["media_type"]), frames_decoded=int(header["frames_decoded"]),
        frames_used=int(header["frames_used"]), decode_s=float(header["decode_s"]), probe=dict(header["probe"]),
        backend=str(header["backend"]), spec=str(header["spec"]), signal=_signal_field(header.get("signal")),
    )  # fmt: skip
    return "ok", media, float(header["peak"])


def _signal_field(value: Any) -> dict[str, str] | None:
    """The child's hash as plain strings (re-parsed and validated by the signal type before use)."""
    if value is None:
        return None
    return {"algorithm": str(value["algorithm"]), "text": str(value["text"])}


def _preload(backends: tuple[str, ...]) -> None:
    """Import the decoders once per child so their import time is not charged to an upload."""
    import av  # noqa: F401

    if "decord" in backends:
        import decord  # noqa: F401
    if "torchcodec" in backends:
        import torchcodec.decoders  # noqa: F401


def _answer(sample_local: Any, job: tuple[Any, ...]) -> tuple[str, Any, float]:
    try:
        result = sample_local(*job)
        return ("ok", result, _peak_rss_mb())
    except MediaError as exc:
        return ("error", exc, _peak_rss_mb())
    except MemoryError:
        return ("error", MediaError(Stage.DECODE, "decoder ran out of its memory limit"), _peak_rss_mb())
    except Exception as exc:  # anything else a decoder raises on hostile data
        return ("error", MediaError(Stage.DECODE, f"decoder failed: {type(exc).__name__}"), _peak_rss_mb())


def _peak_rss_mb() -> float:
    """This process's peak RSS since exec (VmHWM). Not ru_maxrss: that includes the parent's RSS at fork."""
    return proc_status_mb(os.getpid(), "VmHWM")


def proc_status_mb(pid: int, field: str = "VmRSS") -> float:
    """A memory field of /proc/<pid>/status in MB (0 when the process is gone)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class IsolatedDecoder:
    """One decode worker process. Not thread-safe: use one per DoFn instance / thread."""

    def __init__(self, limits: LimitSettings, recycle_after: int, backends: tuple[str, ...] = ("pyav",)) -> None:
        self.limits = limits
        self.recycle_after = recycle_after
        self.backends = backends
        self._process: Any = None
        self._conn: Connection | None = None
        self._jobs = 0
        self.starts = 0
        self.last_peak_rss_mb = 0.0

    def sample(
        self, path: Path, spec: SampleSpec, sampling: SamplingSettings, hashing: HashRequest | None = None
    ) -> SampledMedia:
        """Run `sample_local` in the worker (`sample_and_hash_local` when `hashing`, one decode pass for both);
        MediaError(DECODE) on timeout, memory limit or crash."""
        if self._conn is None or self._jobs >= self.recycle_after:
            self._restart()
        assert self._conn is not None
        self._jobs += 1
        job = (Path(path), spec, sampling, self.limits)
        self._conn.send(job if hashing is None else (*job, hashing))
        status, payload, self.last_peak_rss_mb = self._wait(self.limits.decode_timeout_s)
        if self.last_peak_rss_mb > self.limits.decode_memory_mb:  # peaked between two polls
            self.close(kill=True)
            raise MediaError(Stage.DECODE, f"decoder exceeded its memory limit ({self.limits.decode_memory_mb} MB)")
        if status == "error":
            raise payload
        sampled: SampledMedia = payload  # unpickled from the worker's pipe
        return sampled

    def _wait(self, timeout_s: float) -> tuple[str, Any, float]:
        deadline = time.monotonic() + timeout_s
        assert self._conn is not None
        while not self._conn.poll(POLL_S):
            reason = self._check_child(deadline, timeout_s)
            if reason:
                self.close(kill=True)
                log.warning("decode_worker_killed", reason=reason)
                raise MediaError(Stage.DECODE, reason)
        try:
            return decode_message(self._conn.recv_bytes())
        except (EOFError, OSError):
            self._process.join(timeout=1.0)
            reason = self._death_reason()
            self.close(kill=True)
            raise MediaError(Stage.DECODE, reason) from None

    def _death_reason(self) -> str:
        code = self._process.exitcode
        return f"decoder process crashed (signal {-code})" if code and code < 0 else "decoder process died"

    def _check_child(self, deadline: float, timeout_s: float) -> str | None:
        if not self._process.is_alive():
            return self._death_reason()
        if time.monotonic() > deadline:
            return f"decode exceeded the per-upload time limit ({timeout_s:g} s)"
        if proc_status_mb(self._process.pid) > self.limits.decode_memory_mb:
            return f"decoder exceeded its memory limit ({self.limits.decode_memory_mb} MB)"
        return None

    def _restart(self) -> None:
        self.close()
        ctx = mp.get_context("spawn")
        parent, child = ctx.Pipe()
        self._process = ctx.Process(
            target=_child_main, args=(child, self.limits.decode_memory_mb, self.backends), daemon=True
        )
        self._process.start()
        child.close()
        self._conn, self._jobs = parent, 0
        self.starts += 1
        if self._ready()[0] != "ready":
            raise MediaError(Stage.DECODE, "decoder process did not start")

    def _ready(self) -> tuple[str, Any]:
        assert self._conn is not None
        if not self._conn.poll(START_TIMEOUT_S):
            self.close(kill=True)
            raise MediaError(Stage.DECODE, "decoder process did not start in time")
        status, pid, _ = decode_message(self._conn.recv_bytes())
        return status, pid

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None and self._process.is_alive() else None

    def close(self, kill: bool = False) -> None:
        """Stop the worker (politely unless `kill`); the next `sample` starts a fresh one."""
        if self._process is None:
            return
        if not kill and self._conn is not None:
            try:
                self._conn.send(None)
                self._process.join(timeout=2.0)
            except OSError:
                pass
        if self._process.is_alive():
            self._process.kill()
            self._process.join(timeout=5.0)
        if self._conn is not None:
            self._conn.close()
        self._process, self._conn = None, None
