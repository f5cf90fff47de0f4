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
    from ray._raylet import AuthenticationTokenLoader, Config

    Config.initialize("")
    AuthenticationTokenLoader.instance().reset_cache()
