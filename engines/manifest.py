"""The guard manifest: every guard this distribution ships, by registry name → "module:Class" (imported only
when used, so heavy runtimes load lazily). Adding a guard is one module plus one line here; the conformance
suite (tests/engines/test_registered_guards.py) then runs against it automatically. Other distributions add
guards without editing this file through the `guardstream.guards` entry-point group (same "module:Class")."""

from __future__ import annotations

GUARDS: dict[str, str] = {
    "text": "guardstream.engines.text_guard:TextGuard",
    "safewatch": "guardstream.engines.safewatch.guard:SafeWatchGuard",
    "visual": "guardstream.engines.visual.guard:VisualGuard",
}
