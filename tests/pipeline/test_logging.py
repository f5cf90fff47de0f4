"""Logging keeps working when stderr is replaced after configuration (pytest capture, daemons, redirects)."""

from __future__ import annotations

import io
import json
import logging
import sys

import pytest
import structlog

from guardstream.pipeline.logging import LiveStderrHandler, configure_logging


def test_logs_follow_stderr_after_it_is_replaced_and_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    first = io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    configure_logging("INFO", json=True)
    log = structlog.get_logger("test")
    log.info("before")  # the logger is cached on first use: bound to nothing but the live stream
    first.close()
    second = io.StringIO()
    monkeypatch.setattr(sys, "stderr", second)
    log.warning("after", n=1)
    stdlib = logging.getLogger("guardstream.test.stdlib")
    stdlib.addHandler(LiveStderrHandler())  # the handler configure_logging installs (pytest owns the root's)
    stdlib.warning("from the standard library")
    lines = second.getvalue().splitlines()
    assert json.loads(lines[0])["event"] == "after" and json.loads(lines[0])["n"] == 1
    assert lines[1] == "from the standard library"
