"""Connecting a driver process to a Ray cluster that uses token auth (on by default in Ray 2.60)."""

from __future__ import annotations

import os
from pathlib import Path


def use_token_auth(token_path: Path | str) -> None:
    """Make this process (and the workers it starts) authenticate with the token in `token_path`.

    Ray caches its auth mode and token when it is imported, so the environment change is followed by a
    refresh of both caches (Ray's own `_enable_token_auth` does the same); import order does not matter.
    """
    os.environ["RAY_AUTH_MODE"] = "token"
    os.environ["RAY_AUTH_TOKEN_PATH"] = str(token_path)
    from ray._raylet import AuthenticationTokenLoader, Config  # type: ignore[attr-defined]  # not in Ray's _raylet.pyi

    Config.initialize("")
    AuthenticationTokenLoader.instance().reset_cache()


LOOPBACK_NODE_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def use_loopback_node() -> None:
    """Keep this driver's node IP at 127.0.0.1, as the local stack's head does (its listeners stay on loopback).

    Ray swaps a loopback node IP for the host's address unless this "cluster mode" flag is off, and a driver
    whose IP differs from the head's waits forever for a raylet there. Ray reads the flag when it is imported,
    so the cached constant is refreshed too; import order does not matter.
    """
    os.environ[LOOPBACK_NODE_ENV] = "0"
    from ray._private import ray_constants

    ray_constants.ENABLE_RAY_CLUSTER = False
