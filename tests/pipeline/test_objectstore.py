"""The stack's object store: credentials required, the Iceberg warehouse in it, `s3://` media fetched with the
same limits as files and downloads (bucket allowlist, size, missing objects, traversal)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
import uuid

import pytest
from pydantic import SecretStr

from guardstream.operators.frames import MediaError, fetch_media
from guardstream.operators.frames.settings import LimitSettings
from guardstream.operators.objectstore import ObjectStoreError, S3Client
from guardstream.pipeline.stack import LocalStack
from tests.conftest import make_verdict

pytestmark = [pytest.mark.kafka]


def _status_of(url: str, method: str = "GET") -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_anonymous_and_wrongly_signed_requests_are_refused(local_stack: LocalStack) -> None:
    store = local_stack.object_store()
    assert store is not None and store.endpoint_url
    media = f"{store.endpoint_url}/{store.media_bucket}"
    assert _status_of(media) == 403
    assert _status_of(f"{media}/anonymous-write", method="PUT") == 403
    assert _status_of(f"{store.endpoint_url}/anonymous-bucket", method="PUT") == 403
    wrong = store.model_copy(update={"secret_access_key": SecretStr("not-the-secret")})
    with pytest.raises(ObjectStoreError) as refused:
        S3Client(wrong).put(store.media_bucket, "wrong-key", b"x")
    assert refused.value.status == 403


def test_lake_writes_its_files_into_the_lake_bucket_and_lake_sql_reads_them(local_stack: LocalStack) -> None:
    assert local_stack.warehouse.startswith("s3://")
    lake = local_stack.open_lake()
    verdict = make_verdict(9001, upload_id=f"s3-lake-{uuid.uuid4().hex[:8]}")
    assert lake.write_verdicts([verdict]).rows_inserted == 1
    store = local_stack.object_store()
    assert store is not None
    keys = [o.key for o in S3Client(store).list(store.lake_bucket, "warehouse/")]
    assert any(k.endswith(".parquet") for k in keys) and any(k.endswith(".metadata.json") for k in keys)
    env = {**os.environ, "GUARDSTREAM_STACK__HOME": str(local_stack.home)}
    query = f"SELECT count(*) FROM verdicts WHERE upload_id = '{verdict.upload_id}'"
    cmd = [sys.executable, "-m", "guardstream.pipeline.cli", "lake", "sql", query, "--json"]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, check=True).stdout
    assert json.loads(out)["rows"] == [[1]]


@pytest.fixture()
def media_limits(local_stack: LocalStack) -> LimitSettings:
    store = local_stack.object_store()
    assert store is not None
    return LimitSettings(store=store, max_bytes=1000, fetch_timeout_s=10)


def test_s3_media_is_fetched_from_allowlisted_buckets_within_the_limits(
    local_stack: LocalStack, media_limits: LimitSettings
) -> None:
    assert media_limits.store is not None
    client, bucket = S3Client(media_limits.store), media_limits.store.media_bucket
    client.put(bucket, "uploads/ok.jpg", b"j" * 500)
    client.put(bucket, "uploads/big.mp4", b"v" * 1001)
    client.put(bucket, "uploads/empty.png", b"")
    with fetch_media(f"s3://{bucket}/uploads/ok.jpg", media_limits) as media:
        assert media.size_bytes == 500 and media.path.read_bytes() == b"j" * 500 and media.path.suffix == ".jpg"
    assert not media.path.exists(), "the download is removed when the fetch context exits"
    client.create_bucket("not-allowlisted")
    client.put("not-allowlisted", "x.jpg", b"j")
    refused = {
        f"s3://{bucket}/uploads/big.mp4": "over the size limit",
        f"s3://{bucket}/uploads/empty.png": "empty media",
        f"s3://{bucket}/uploads/missing.jpg": "no such object",
        "s3://not-allowlisted/x.jpg": "bucket is not on the allowlist",
        f"s3://{bucket}/uploads/../ok.jpg": "'..'",
        f"s3://user:pw@{bucket}/uploads/ok.jpg": "not an s3://bucket/key URI",
    }
    for uri, reason in refused.items():
        with pytest.raises(MediaError, match=reason), fetch_media(uri, media_limits):
            pass


def test_s3_media_is_refused_without_a_configured_store() -> None:
    uri = "s3://guardstream-media/a.jpg"
    with pytest.raises(MediaError, match="no object store"), fetch_media(uri, LimitSettings()):
        pass
