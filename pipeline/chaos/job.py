"""The streaming job as a supervised subprocess (`guardstream stream --no-deploy`): restarted when it dies,
as a Flink job manager or a k8s Deployment would; stopped cooperatively through its stop file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)

STREAMING = '"event": "streaming"'


class JobRunner:
    def __init__(self, home: Path, env: dict[str, str], log_path: Path) -> None:
        self.home, self.env, self.log_path = home, env, log_path
        self.stop_file = home / "chaos-stream.stop"
        self.restarts = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._watcher = threading.Thread(target=self._watch, name="chaos-job-watcher", daemon=True)

    def _spawn(self) -> None:
        self.stop_file.unlink(missing_ok=True)
        cmd = [sys.executable, "-m", "guardstream.pipeline.cli", "stream", "--no-deploy", "--json"]
        cmd += ["--stop-file", str(self.stop_file)]
        with self.log_path.open("ab") as out:
            self._proc = subprocess.Popen(
                cmd, env={**os.environ, **self.env}, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def _streaming_count(self) -> int:
        return self.log_path.read_text(errors="replace").count(STREAMING) if self.log_path.exists() else 0

    def start(self, timeout_s: float = 240.0) -> None:
        """Start the job and wait until it reports streaming; the watcher then keeps it running."""
        with self._lock:
            before = self._streaming_count()
            self._spawn()
        deadline = time.monotonic() + timeout_s
        while self._streaming_count() <= before and time.monotonic() < deadline:
            time.sleep(0.5)
        if not self._watcher.is_alive():
            self._watcher.start()

    def _watch(self) -> None:
        while not self._stopping.is_set():
            with self._lock:
                proc = self._proc
                if proc is not None and proc.poll() is not None and not self._stopping.is_set():
                    log.info("chaos.job_restart", exit_code=proc.returncode)
                    self.restarts += 1
                    self._spawn()
            time.sleep(1.0)

    def kill(self) -> None:
        """kill -9 the job's process group (the watcher restarts it)."""
        with self._lock:
            if self._proc is not None and self._proc.poll() is None:
                os.killpg(self._proc.pid, signal.SIGKILL)

    def restart(self, reason: str) -> None:
        log.info("chaos.job_replace", reason=reason)
        self.kill()

    def stop(self, timeout_s: float = 120.0) -> None:
        self._stopping.set()
        self.stop_file.touch()
        proc = self._proc
        if proc is None:
            return
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)

    @staticmethod
    def environment(home: Path, media_roots: list[Path]) -> dict[str, str]:
        return {
            "GUARDSTREAM_STACK__HOME": str(home),
            "GUARDSTREAM_LIMITS__ALLOWED_ROOTS": json.dumps([str(r) for r in media_roots]),
        }
