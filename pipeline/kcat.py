"""Run Debian's `kcat` against the broker.

Debian bookworm's librdkafka 2.0.2 misparses the tagged fields of tansu's ApiVersions v3 response
("Read underflow"), so kcat is started with the newer librdkafka that the confluent-kafka wheel bundles
(LD_PRELOAD). kcat stays an independent client: it shares no code with kafka-python.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path


class KcatUnavailable(RuntimeError):
    pass


def modern_librdkafka() -> Path | None:
    try:
        import confluent_kafka
    except ImportError:
        return None
    libs = Path(confluent_kafka.__file__).parent.parent / "confluent_kafka.libs"
    return next(iter(sorted(libs.glob("librdkafka*.so*"))), None)


def kcat_argv_env(*args: str) -> tuple[list[str], dict[str, str]]:
    """argv and environment to run kcat with `args`."""
    binary = shutil.which("kcat")
    if binary is None:
        raise KcatUnavailable("kcat not found: `make setup` installs the Debian package kcat")
    env = dict(os.environ)
    lib = modern_librdkafka()
    if lib is not None:
        env["LD_PRELOAD"] = f"{lib} {env['LD_PRELOAD']}" if env.get("LD_PRELOAD") else str(lib)
    return [binary, *args], env
