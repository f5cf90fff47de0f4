"""E2E fixtures: the session's local stack with the text guard deployed on Ray Serve (one replica)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from guardstream.pipeline.demo import Session, close_session, open_session, with_media_root
from guardstream.pipeline.stack import LocalStack


@pytest.fixture(scope="module")
def media_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="module")
def session(local_stack: LocalStack, media_root: Path) -> Iterator[Session]:
    session = open_session(with_media_root(local_stack.settings, media_root))
    assert not session.started_stack  # the session-wide stack fixture owns the processes
    try:
        yield session
    finally:
        close_session(session)
