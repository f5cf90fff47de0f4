"""structlog configuration; called once by entrypoints. JSON when stderr is not a TTY.

Both the structlog logger and the stdlib handler look ``sys.stderr`` up at every write rather than
binding the stream once: a process (or a test run) that swaps stderr after configuration keeps logging
to the live stream instead of writing into a closed one.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog


class LiveStderrLogger:
    """A structlog logger that prints each rendered line to whatever ``sys.stderr`` is now."""

    def msg(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    log = debug = info = warn = warning = err = error = critical = exception = fatal = msg


class LiveStderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Stdlib handler whose stream is the current ``sys.stderr``."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:  # StreamHandler.__init__ assigns it; ignore
        pass


def _live_stderr_logger(*_args: Any) -> LiveStderrLogger:
    return LiveStderrLogger()


def configure_logging(level: str = "INFO", json: bool | None = None) -> None:
    use_json = (not sys.stderr.isatty()) if json is None else json
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer()
    )
    logging.basicConfig(handlers=[LiveStderrHandler()], level=level, format="%(message)s")
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=_live_stderr_logger,
        cache_logger_on_first_use=True,
    )
