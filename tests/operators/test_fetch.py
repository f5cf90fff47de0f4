"""Fetch rules against real files and a real local HTTP server: roots, schemes, allowlist, loopback and
private addresses, redirects, size cap, stalled bodies."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from guardstream.operators.frames import MediaError, SampleSpec, fetch_media, sample_media
from guardstream.operators.frames.fetch import allowed_address
from guardstream.pipeline.settings import LimitSettings, SamplingSettings
from guardstream.schemas.dead_letter import Stage
from tests.operators.frames_clips import make_clip

STALL = threading.Event()
FLAKY_HITS: dict[str, int] = {}  # path → GET requests seen (the flaky routes fail their first two)


class Handler(BaseHTTPRequestHandler):
    clip: bytes = b""

    def do_GET(self) -> None:
        port = self.server.server_address[1]
        routes = {
            "/clip.mp4": lambda: self._send(self.clip),
            "/same-origin": lambda: self._redirect("/clip.mp4"),
            "/to-loopback": lambda: self._redirect(f"http://127.0.0.2:{port}/clip.mp4"),
            "/to-localhost": lambda: self._redirect(f"http://localhost:{port}/clip.mp4"),
            "/to-private": lambda: self._redirect("http://10.0.0.1/clip.mp4"),
            "/loop": lambda: self._redirect("/loop"),
            "/stall.mp4": self._stall,
            "/playlist.m3u8": lambda: self._send(b"#EXTM3U\n#EXTINF:1.0,\nfile:///etc/passwd\n"),
            "/missing": lambda: self.send_error(404),
            "/flaky-503.mp4": lambda: self._flaky(lambda: self.send_error(503)),
            "/flaky-reset.mp4": lambda: self._flaky(self._reset),
            "/always-503.mp4": lambda: self._flaky(lambda: self.send_error(503), fails=99),
        }
        routes.get(self.path, lambda: self.send_error(404))()

    def _send(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _flaky(self, fail: Callable[[], None], fails: int = 2) -> None:
        FLAKY_HITS[self.path] = FLAKY_HITS.get(self.path, 0) + 1
        fail() if FLAKY_HITS[self.path] <= fails else self._send(self.clip)

    def _reset(self) -> None:
        self.close_connection = True  # hang up with no answer: the client sees the connection drop
        self.connection.shutdown(socket.SHUT_RDWR)

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _stall(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(1 << 20))
        self.end_headers()
        self.wfile.write(self.clip[:100])
        self.wfile.flush()
        STALL.wait(10)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("fetch") / "clip.mp4", frames=25, fps=25, gop=25)


@pytest.fixture(scope="module")
def server(clip: Path) -> Iterator[str]:
    Handler.clip = clip.read_bytes()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    STALL.set()
    httpd.shutdown()
    httpd.server_close()


LOOPBACK_ALLOWED = LimitSettings(allowed_hosts=("127.0.0.1",), fetch_timeout_s=2.0)


def refused(source: str | Path, limits: LimitSettings, trusted_path: bool = False) -> MediaError:
    with pytest.raises(MediaError) as info, fetch_media(source, limits, trusted_path=trusted_path):
        pass
    assert info.value.stage == Stage.FETCH
    return info.value


def test_file_uri_inside_the_roots(clip: Path) -> None:
    with fetch_media(f"file://{clip}", LimitSettings(allowed_roots=(clip.parent,))) as media:
        assert media.path == clip.resolve() and not media.temporary


def test_file_uri_outside_the_roots(clip: Path, tmp_path: Path) -> None:
    assert "outside" in refused(f"file://{clip}", LimitSettings(allowed_roots=(tmp_path,))).reason


def test_traversal_and_symlinks_cannot_leave_the_roots(clip: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "link.mp4").symlink_to(clip)
    limits = LimitSettings(allowed_roots=(root,))
    assert "outside" in refused(f"file://{root}/../{clip.parent.name}/{clip.name}", limits).reason
    assert "outside" in refused(f"file://{root}/link.mp4", limits).reason


def test_bare_paths_only_when_trusted(clip: Path) -> None:
    assert "bare path" in refused(str(clip), LimitSettings()).reason
    with fetch_media(clip, LimitSettings(), trusted_path=True) as media:
        assert media.size_bytes == clip.stat().st_size


@pytest.mark.parametrize(
    "uri", ["ftp://example.com/a.mp4", "data:video/mp4;base64,AAAA://", "gopher://x/1", "hls+http://h/a.m3u8"]
)
def test_other_schemes_are_refused(uri: str) -> None:
    assert "refused" in refused(uri, LOOPBACK_ALLOWED).reason


def test_file_uri_with_a_remote_host_is_refused(clip: Path) -> None:
    assert "remote host" in refused(f"file://fileserver{clip}", LimitSettings()).reason


def test_http_host_not_on_the_allowlist(server: str) -> None:
    assert "allowlist" in refused(f"{server}/clip.mp4", LimitSettings()).reason


def test_allowlisted_name_resolving_to_loopback_is_refused(server: str) -> None:
    port = server.rsplit(":", 1)[1]
    limits = LimitSettings(allowed_hosts=("localhost",))
    assert "loopback/private" in refused(f"http://localhost:{port}/clip.mp4", limits).reason
    with pytest.raises(MediaError):
        allowed_address("localhost", limits)


def test_http_download_from_an_allowlisted_host(server: str, clip: Path) -> None:
    with fetch_media(f"{server}/clip.mp4", LOOPBACK_ALLOWED) as media:
        assert media.temporary and media.path.read_bytes() == clip.read_bytes()
        fetched = media.path
    assert not fetched.exists()  # temporary downloads are removed


def test_same_origin_redirect_is_followed(server: str) -> None:
    with fetch_media(f"{server}/same-origin", LOOPBACK_ALLOWED) as media:
        assert media.size_bytes > 0


@pytest.mark.parametrize("path", ["/to-loopback", "/to-localhost", "/to-private"])
def test_redirect_to_another_or_loopback_address_is_refused(server: str, path: str) -> None:
    limits = LimitSettings(allowed_hosts=("127.0.0.1", "localhost"), fetch_timeout_s=2.0)
    assert "redirect" in refused(f"{server}{path}", limits).reason


def test_redirect_loop_stops(server: str) -> None:
    assert "redirects" in refused(f"{server}/loop", LOOPBACK_ALLOWED).reason


def test_size_cap(server: str) -> None:
    limits = LOOPBACK_ALLOWED.model_copy(update={"max_bytes": 1000})
    assert "size limit" in refused(f"{server}/clip.mp4", limits).reason


def test_http_error_status(server: str) -> None:
    assert "404" in refused(f"{server}/missing", LOOPBACK_ALLOWED).reason


@pytest.mark.parametrize("path", ["/flaky-503.mp4", "/flaky-reset.mp4"])
def test_transient_failures_are_retried(server: str, clip: Path, path: str) -> None:
    FLAKY_HITS.pop(path, None)
    with fetch_media(f"{server}{path}", LOOPBACK_ALLOWED.model_copy(update={"fetch_timeout_s": 10.0})) as media:
        assert media.path.read_bytes() == clip.read_bytes()
    assert FLAKY_HITS[path] == 3  # two failures, then the download


def test_retries_stop_at_the_attempt_limit_and_say_how_many(server: str) -> None:
    FLAKY_HITS.pop("/always-503.mp4", None)
    limits = LOOPBACK_ALLOWED.model_copy(update={"fetch_timeout_s": 10.0, "fetch_attempts": 3})
    error = refused(f"{server}/always-503.mp4", limits)
    assert (error.tries, FLAKY_HITS["/always-503.mp4"]) == (3, 3)
    assert "503" in error.reason and "after 3 tries" in error.reason


def test_refusals_are_not_retried(server: str) -> None:
    error = refused(f"{server}/missing", LOOPBACK_ALLOWED.model_copy(update={"fetch_attempts": 5}))
    assert error.tries == 1 and not error.transient


def test_stalled_body_times_out(server: str) -> None:
    limits = LOOPBACK_ALLOWED.model_copy(update={"fetch_timeout_s": 1.0})
    assert "time limit" in refused(f"{server}/stall.mp4", limits).reason


def test_hls_playlist_over_http_is_refused_before_decoding(server: str) -> None:
    sampling = SamplingSettings(isolate=False)
    with pytest.raises(MediaError) as info:
        sample_media(f"{server}/playlist.m3u8", SampleSpec.from_settings(sampling), sampling, LOOPBACK_ALLOWED)
    assert info.value.stage == Stage.PROBE and "playlist" in info.value.reason


def test_http_media_is_sampled(server: str) -> None:
    sampling = SamplingSettings(isolate=False, spec="uniform")  # exact frames: the clip has one keyframe
    spec = SampleSpec.from_settings(sampling, frames=2)
    result = sample_media(f"{server}/clip.mp4", spec, sampling, LOOPBACK_ALLOWED)
    assert result.frames_used == 2
