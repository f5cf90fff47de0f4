"""A small S3 client (AWS Signature V4, path-style, stdlib only) for the object store the stack runs.

Enough for what guardstream needs and nothing more: create buckets, put / get / head / delete objects, list
keys. Reads are bounded (a size cap and one wall-clock deadline), so `s3://` media obeys the same limits as
a download. pyarrow's S3 filesystem is not used here because it writes directory-marker objects on delete,
and a marker inside the broker's log folder crashes tansu (docs/operations.md, "Broker on S3").
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import http.client
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

from guardstream.operators.objectstore_settings import ObjectStoreSettings

CHUNK_BYTES = 256 * 1024
_S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


class ObjectStoreError(RuntimeError):
    """The store refused or failed a request. `status` is the HTTP status (0: no answer)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class ObjectTooLarge(ObjectStoreError):
    """An object is over the size cap a read was given."""


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size_bytes: int
    modified_at_s: float = 0.0  # Unix time of the last modification (1 s resolution on most stores)


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/key` → (bucket, key); refuses empty parts, credentials, '.' / '..' segments."""
    parts = urlsplit(uri)
    if parts.scheme.lower() != "s3" or not parts.netloc or parts.username or parts.password:
        raise ValueError("not an s3://bucket/key URI")
    key = parts.path.lstrip("/")
    segments = key.split("/")
    if not key or any(s in ("", ".", "..") for s in segments) or parts.query or parts.fragment:
        raise ValueError("s3 key is empty or has empty, '.' or '..' segments, a query or a fragment")
    return parts.netloc, key


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


class S3Client:
    """Signed requests to one S3-compatible endpoint. Cheap; one per thread."""

    def __init__(self, settings: ObjectStoreSettings) -> None:
        if not settings.configured:
            raise ObjectStoreError("object store endpoint or credentials are not configured")
        self.settings = settings
        endpoint = urlsplit(str(settings.endpoint_url))
        self._https = endpoint.scheme == "https"
        self._host = str(endpoint.netloc)

    # ---- signing ------------------------------------------------------------------------------------
    def _headers(self, method: str, path: str, query: str, payload_hash: str) -> dict[str, str]:
        now = dt.datetime.now(dt.UTC)
        amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
        headers = {"host": self._host, "x-amz-content-sha256": payload_hash, "x-amz-date": amz_date}
        names = ";".join(sorted(headers))
        canonical_headers = "".join(f"{k}:{headers[k]}\n" for k in sorted(headers))
        canonical = "\n".join([method, path, query, canonical_headers, names, payload_hash])
        scope = f"{day}/{self.settings.region}/s3/aws4_request"
        to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
        key = _hmac(("AWS4" + self.settings.secret()).encode(), day)
        for part in (self.settings.region, "s3", "aws4_request"):
            key = _hmac(key, part)
        signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        credential = f"{self.settings.access_key_id}/{scope}"
        headers["Authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={credential}, SignedHeaders={names}, Signature={signature}"
        )
        return headers

    def _open(
        self, method: str, bucket: str, key: str = "", params: dict[str, str] | None = None, body: bytes = b"",
        timeout_s: float | None = None,
    ) -> tuple[http.client.HTTPResponse, http.client.HTTPConnection]:  # fmt: skip
        path = "/" + quote(bucket, safe="") + ("/" + quote(key, safe="/-_.~") if key else "")
        query = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted((params or {}).items()))
        headers = self._headers(method, path, query, hashlib.sha256(body).hexdigest())
        timeout = timeout_s if timeout_s is not None else self.settings.request_timeout_s
        conn_type = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        conn = conn_type(self._host, timeout=timeout)
        try:
            conn.request(method, path + (f"?{query}" if query else ""), body=body or None, headers=headers)
            return conn.getresponse(), conn
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise ObjectStoreError(f"object store request failed: {type(exc).__name__}") from None

    def _call(self, method: str, bucket: str, key: str = "", params: dict[str, str] | None = None,
              body: bytes = b"", ok: tuple[int, ...] = (200,)) -> bytes:  # fmt: skip
        response, conn = self._open(method, bucket, key, params, body)
        try:
            data = response.read()
        finally:
            conn.close()
        if response.status not in ok:
            raise ObjectStoreError(f"{method} {bucket} answered HTTP {response.status}", response.status)
        return data

    # ---- operations ---------------------------------------------------------------------------------
    def create_bucket(self, bucket: str) -> None:
        """Create `bucket`; a bucket that already exists (ours) is fine."""
        try:
            self._call("PUT", bucket)
        except ObjectStoreError as exc:
            if exc.status != 409:
                raise

    def put(self, bucket: str, key: str, data: bytes) -> None:
        self._call("PUT", bucket, key, body=data)

    def delete(self, bucket: str, key: str) -> None:
        """Delete one object (and only it: no directory markers are written)."""
        self._call("DELETE", bucket, key, ok=(200, 204))

    def head(self, bucket: str, key: str) -> int | None:
        """The object's size in bytes, or None when there is no such object."""
        response, conn = self._open("HEAD", bucket, key)
        conn.close()
        if response.status == 404:
            return None
        if response.status != 200:
            raise ObjectStoreError(f"HEAD {bucket} answered HTTP {response.status}", response.status)
        return int(response.getheader("Content-Length") or 0)

    def get(self, bucket: str, key: str) -> bytes:
        return self._call("GET", bucket, key)

    def list(self, bucket: str, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object under `prefix` (ListObjectsV2, all pages)."""
        params = {"list-type": "2", "prefix": prefix}
        while True:
            root = ET.fromstring(self._call("GET", bucket, params=params))
            for item in root.iter(f"{_S3_NS}Contents"):
                yield _object_info(item)
            token = root.findtext(f"{_S3_NS}NextContinuationToken")
            if root.findtext(f"{_S3_NS}IsTruncated") != "true" or not token:
                return
            params = {**params, "continuation-token": token}

    def download(self, bucket: str, key: str, dest: Path, max_bytes: int, timeout_s: float) -> int:
        """Stream one object into `dest`, refusing more than `max_bytes` and more than `timeout_s` in all."""
        deadline = time.monotonic() + timeout_s
        response, conn = self._open("GET", bucket, key, timeout_s=timeout_s)
        try:
            if response.status != 200:
                raise ObjectStoreError(f"GET {bucket} answered HTTP {response.status}", response.status)
            declared = response.getheader("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise ObjectTooLarge(f"object is over the size limit ({max_bytes} bytes)")
            return _stream(response, conn, dest, max_bytes, deadline)
        finally:
            conn.close()


def _object_info(item: ET.Element) -> ObjectInfo:
    modified = item.findtext(f"{_S3_NS}LastModified", "")
    when = dt.datetime.fromisoformat(modified.replace("Z", "+00:00")).timestamp() if modified else 0.0
    return ObjectInfo(item.findtext(f"{_S3_NS}Key", ""), int(item.findtext(f"{_S3_NS}Size", "0")), when)


def _stream(
    response: http.client.HTTPResponse, conn: http.client.HTTPConnection, dest: Path, max_bytes: int, deadline: float
) -> int:
    size = 0
    with dest.open("wb") as out:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ObjectStoreError("object read exceeded its time limit")
            if conn.sock is not None:
                conn.sock.settimeout(left)
            try:
                chunk = response.read1(CHUNK_BYTES)
            except (OSError, http.client.HTTPException) as exc:
                raise ObjectStoreError(f"object read failed: {type(exc).__name__}") from None
            if not chunk:
                return size
            size += len(chunk)
            if size > max_bytes:
                raise ObjectTooLarge(f"object is over the size limit ({max_bytes} bytes)")
            out.write(chunk)
