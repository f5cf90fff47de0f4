"""The SafeWatch guard in its policy-first layout passes the shared conformance suite (the default, paper layout
runs it as a registered guard in tests/engines/test_registered_guards.py)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from guardstream.engines.base import Guard
from guardstream.engines.safewatch.config import Layout
from guardstream.engines.safewatch.guard import SafeWatchGuard
from guardstream.engines.safewatch.make_checkpoint import make_checkpoint
from tests.engines.conformance import GuardConformance


def _guard(layout: Layout) -> Guard:
    checkpoint = make_checkpoint(Path(tempfile.mkdtemp(prefix="safewatch-conf-")) / "tiny", "tiny")
    guard = SafeWatchGuard(
        checkpoint=checkpoint, layout=layout, pap_keep_ratio=0.5, pap_layer=1, explain_max_new_tokens=4
    )
    guard.load()
    return guard


class TestSafeWatchPolicyFirstConformance(GuardConformance):
    @classmethod
    def make_guard(cls) -> Guard:
        return _guard(Layout.POLICY_FIRST)
