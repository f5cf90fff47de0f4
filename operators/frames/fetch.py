"""Fetch media to a local file: file:// only inside configured roots, http(s):// only from allowlisted hosts,
never to a loopback/private address that is not itself allowlisted, no redirect to another origin, a size cap
and one wall-clock deadline. Every other scheme is refused.

Remote fetches (http(s), s3) retry transient failures — no answer, connection reset, HTTP 429 / 5xx — with
jittered backoff, up to `fetch_attempts` tries inside the same deadline; the error that ends them says how many
tries were made. Refusals (policy, size, 4xx) are never retried."""

from __future__ import annotations

import http.client
import ipaddress
import os
import random
import socket
import stat
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

from guardstream.operators.frames.errors import MediaError
from guardstream.operators.frames.probe import EXTENSIONS
from guardstream.operators.frames.settings import LimitSettings
from guardstream.schemas.dead_letter import Stage

CHUNK_BYTES = 256 * 1024
REDIRECTS = (301, 302, 303, 307, 308)
TRANSIENT_STATUS = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class LocalMedia:
    """A fetched upload on local disk. `temporary` files are removed when the `fetch_media` context exits."""

    path: Path
    size_bytes: int
    temporary: bool


@contextmanager
def fetch_media(source: str | Path, limits: LimitSettings, *, trusted_path: bool = False) -> Iterator[LocalMedia]:
    """Yield the media at `source` as a local file. A plain path is accepted only when `trusted_path`
    (a location a CLI user named); `trusted_path` also lifts the roots check for file:// URIs."""
    text = str(source)
    scheme = urlsplit(text).scheme.lower() if "://" in text else ""
    if scheme == "":
        if not trusted_path:
            raise MediaError(Stage.FETCH, "a bare path is not a media URI (use file://)")
        yield local_file(Path(text), limits, roots=None)
    elif scheme == "file":
        yield local_file(file_uri_path(text), limits, roots=None if trusted_path else limits.allowed_roots)
    elif scheme in ("http", "https", "s3"):
        fetch = download if scheme != "s3" else s3_object
        with tempfile.TemporaryDirectory(prefix="guardstream-fetch-") as folder:
            yield retrying(lambda deadline: fetch(text, limits, Path(folder), deadline), limits)
    else:
        raise MediaError(Stage.FETCH, f"scheme {scheme!r} is refused (file, http, https, s3 only)")


def retrying(fetch: Callable[[float], LocalMedia], limits: LimitSettings) -> LocalMedia:
    """Run `fetch(deadline)` until it succeeds, fails for good, runs out of tries or would pass the deadline."""
    deadline = time.monotonic() + limits.fetch_timeout_s
    for tries in range(1, limits.fetch_attempts + 1):
        try:
            return fetch(deadline)
        except MediaError as exc:
            exc.tries = tries
            delay = min(2.0, 0.1 * 2**tries) * (0.5 + random.random())
            if not exc.transient or tries == limits.fetch_attempts or time.monotonic() + delay >= deadline:
                if tries > 1:
                    exc.reason = f"{exc.reason} (after {tries} tries)"
                raise
            time.sleep(delay)
    raise AssertionError("unreachable: the last try returns or raises")


def s3_object(uri: str, limits: LimitSettings, folder: Path, deadline: float | None = None) -> LocalMedia:
    """GET `s3://bucket/key` from `limits.store` into `folder`: allowlisted buckets only, same size and time
    limits as a download."""
    from guardstream.operators.objectstore import (
        ObjectStoreError,
        ObjectTooLarge,
        S3Client,
        parse_s3_uri,
    )

    if limits.store is None or not limits.store.configured:
        raise MediaError(Stage.FETCH, "s3:// media is refused (no object store configured)")
    try:
        bucket, key = parse_s3_uri(uri)
    except ValueError as exc:
        raise MediaError(Stage.FETCH, str(exc)) from None
    if bucket not in limits.store.allowed_media_buckets:
        raise MediaError(Stage.FETCH, "bucket is not on the allowlist")
    suffix = Path(key).suffix.lower()
    path = folder / ("media" + (suffix if suffix in EXTENSIONS else ""))
    try:
        timeout_s = limits.fetch_timeout_s if deadline is None else _remaining(deadline)
        size = S3Client(limits.store).download(bucket, key, path, limits.max_bytes, timeout_s)
    except ObjectTooLarge:
        raise MediaError(Stage.FETCH, f"media is over the size limit ({limits.max_bytes} bytes)") from None
    except ObjectStoreError as exc:
        transient = exc.status == 0 or exc.status in TRANSIENT_STATUS
        reason = "no such object" if exc.status == 404 else str(exc)
        raise MediaError(Stage.FETCH, reason, transient=transient) from None
    except OSError as exc:
        raise MediaError(Stage.FETCH, _network_reason(exc), transient=True) from None
    _check_size(size, limits)
    return LocalMedia(path, size, temporary=True)


def file_uri_path(uri: str) -> Path:
    parts = urlsplit(uri)
    if parts.netloc not in ("", "localhost"):
        raise MediaError(Stage.FETCH, "file:// URIs with a remote host are refused")
    return Path(unquote(parts.path))


def local_file(path: Path, limits: LimitSettings, roots: tuple[Path, ...] | None) -> LocalMedia:
    """Check a local file: inside `roots` after resolving links and '..' (None: any), a regular file, size."""
    resolved = path.resolve()
    if roots is not None and not any(resolved.is_relative_to(root.resolve()) for root in roots):
        raise MediaError(Stage.FETCH, "path is outside the allowed media roots")
    try:
        info = os.stat(resolved)
    except OSError:
        raise MediaError(Stage.FETCH, "no such file") from None
    if not stat.S_ISREG(info.st_mode):
        raise MediaError(Stage.FETCH, "not a regular file")
    _check_size(info.st_size, limits)
    return LocalMedia(resolved, info.st_size, temporary=False)


def _check_size(size: int, limits: LimitSettings) -> None:
    if size == 0:
        raise MediaError(Stage.FETCH, "empty media (0 bytes)")
    if size > limits.max_bytes:
        raise MediaError(Stage.FETCH, f"media is over the size limit ({limits.max_bytes} bytes)")


def allowed_address(host: str, limits: LimitSettings) -> str:
    """Resolve an allowlisted `host` to the one address to connect to; loopback, private, link-local,
    reserved and multicast addresses are refused unless that exact address is on the allowlist."""
    allowed = {h.lower() for h in limits.allowed_hosts}
    if host.lower() not in allowed:
        raise MediaError(Stage.FETCH, "host is not on the allowlist")
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        raise MediaError(Stage.FETCH, "host does not resolve") from None
    addresses = sorted({str(info[4][0]) for info in infos})  # an IP host is a str; typeshed allows int too
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if not ip.is_global and address not in allowed:
            raise MediaError(Stage.FETCH, "host resolves to a loopback/private address that is not allowlisted")
    return addresses[0]


def _connection(scheme: str, host: str, port: int, address: str, timeout_s: float) -> http.client.HTTPConnection:
    """An HTTP(S) connection pinned to the checked `address` (no second DNS lookup); TLS still verifies `host`."""
    conn: http.client.HTTPConnection
    if scheme == "https":
        conn = http.client.HTTPSConnection(host, port, timeout=timeout_s)
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout_s)
    conn._create_connection = lambda _addr, timeout, source: socket.create_connection(  # type: ignore[attr-defined]
        (address, port), timeout, source
    )
    return conn


def download(url: str, limits: LimitSettings, folder: Path, deadline: float | None = None) -> LocalMedia:
    """GET `url` into `folder`, following same-origin redirects only, within the size and time limits."""
    deadline = time.monotonic() + limits.fetch_timeout_s if deadline is None else deadline
    origin = _origin(url)
    for _ in range(limits.max_redirects + 1):
        response, conn = _request(url, limits, deadline)
        try:
            if response.status in REDIRECTS:
                url = urljoin(url, response.getheader("Location") or "")
                if _origin(url) != origin:
                    raise MediaError(Stage.FETCH, "redirect to another origin is refused")
                continue
            if response.status != 200:
                raise MediaError(
                    Stage.FETCH, f"HTTP status {response.status}", transient=response.status in TRANSIENT_STATUS
                )
            return _save(response, conn, url, limits, folder, deadline)
        finally:
            conn.close()
    raise MediaError(Stage.FETCH, f"more than {limits.max_redirects} redirects")


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise MediaError(Stage.FETCH, f"scheme {scheme!r} is refused (file, http, https only)")
    if parts.username or parts.password:
        raise MediaError(Stage.FETCH, "credentials in URLs are refused")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise MediaError(Stage.FETCH, "invalid port") from None
    return scheme, parts.hostname.lower(), port


def _request(
    url: str, limits: LimitSettings, deadline: float
) -> tuple[http.client.HTTPResponse, http.client.HTTPConnection]:
    scheme, host, port = _origin(url)
    address = allowed_address(host, limits)
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    conn = _connection(scheme, host, port, address, _remaining(deadline))
    try:
        conn.request("GET", target, headers={"User-Agent": "guardstream-fetch/1", "Accept-Encoding": "identity"})
        return conn.getresponse(), conn
    except (OSError, http.client.HTTPException) as exc:
        conn.close()
        raise MediaError(Stage.FETCH, _network_reason(exc), transient=_is_transient(exc)) from None


def _save(
    response: http.client.HTTPResponse, conn: http.client.HTTPConnection, url: str, limits: LimitSettings,
    folder: Path, deadline: float,
) -> LocalMedia:  # fmt: skip
    declared = response.getheader("Content-Length")
    if declared and declared.isdigit():
        _check_size(int(declared), limits)
    suffix = Path(urlsplit(url).path).suffix.lower()
    path = folder / ("media" + (suffix if suffix in EXTENSIONS else ""))
    size = 0
    try:
        with path.open("wb") as out:
            while chunk := _read(response, conn, deadline):
                size += len(chunk)
                if size > limits.max_bytes:
                    raise MediaError(Stage.FETCH, f"media is over the size limit ({limits.max_bytes} bytes)")
                out.write(chunk)
    except (OSError, http.client.HTTPException) as exc:
        raise MediaError(Stage.FETCH, _network_reason(exc), transient=_is_transient(exc)) from None
    _check_size(size, limits)
    return LocalMedia(path, size, temporary=True)


def _read(response: http.client.HTTPResponse, conn: http.client.HTTPConnection, deadline: float) -> bytes:
    """One chunk; the socket timeout shrinks to what is left of the deadline, so a stalled body cannot hang."""
    if conn.sock is not None:
        conn.sock.settimeout(_remaining(deadline))
    return response.read1(CHUNK_BYTES)


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise MediaError(Stage.FETCH, "fetch exceeded its time limit")
    return left


def _network_reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | socket.timeout):
        return "fetch exceeded its time limit"
    return f"fetch failed: {type(exc).__name__}"


def _is_transient(exc: BaseException) -> bool:
    """Connection-level failures a later try may not meet; a timeout is not one (it used the deadline up)."""
    if isinstance(exc, TimeoutError | socket.timeout):
        return False
    return isinstance(exc, ConnectionError | http.client.RemoteDisconnected | http.client.IncompleteRead)
