"""The HTTP client against a real local HTTP server, one test per fault (timeouts, caps)."""

from __future__ import annotations

import gzip
import threading
import time
import tracemalloc
import zlib

import pytest

from monitors.errors import (
    FetchError,
    FetchTimeout,
    ResponseTooLarge,
    TooManyRedirects,
)
from monitors.httpclient import Fetcher
from monitors.polling import fetch_pages
from tests.support.faults import unaccepting_port
from tests.support.fetching import FEED, RSS, poll, settings
from tests.support.httpserver import Request, Response

pytestmark = pytest.mark.timeout(60)


def test_connect_timeout_on_a_port_that_never_accepts(fetcher) -> None:
    """A real connect timeout: the listening socket's accept queue is full, SYNs are dropped."""
    with unaccepting_port() as port:
        url = f"http://127.0.0.1:{port}/feed"
        started = time.monotonic()
        result = poll(fetcher, url)
        took = time.monotonic() - started
    assert result.status == "failed"
    assert isinstance(result.error, FetchTimeout)
    assert "could not connect within 1s" in result.message
    assert "'Test Feed'" in result.message and url in result.message
    assert 0.9 <= took < 3.0
    assert result.state.consecutive_failures == 1


def test_drip_one_byte_a_second_is_stopped_by_the_total_deadline(server, fetcher) -> None:
    def drip(req: Request) -> None:
        w = req.handler.wfile
        w.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 1000\r\n\r\n")
        for _ in range(30):
            w.write(b"x")
            w.flush()
            time.sleep(0.5)  # each byte arrives well within the 1.5 s read timeout

    server.route("/drip", drip)
    started = time.monotonic()
    with pytest.raises(FetchTimeout) as info:
        fetcher.get(server.url("/drip"), kind="feed")
    took = time.monotonic() - started
    assert 2.9 <= took < 5.0  # total_timeout=3
    assert "total deadline of 3s exceeded" in str(info.value).lower()
    assert server.url("/drip") in str(info.value)


def test_dripped_headers_are_stopped_by_the_total_deadline(server, fetcher) -> None:
    """A slow-loris response that never finishes its headers (enforced at the socket layer)."""

    def drip_headers(req: Request) -> None:
        w = req.handler.wfile
        w.write(b"HTTP/1.1 200 OK\r\n")
        for _ in range(30):
            w.write(b"X")
            w.flush()
            time.sleep(0.5)

    server.route("/slow-headers", drip_headers)
    started = time.monotonic()
    with pytest.raises(FetchTimeout) as info:
        fetcher.get(server.url("/slow-headers"), kind="feed")
    assert time.monotonic() - started < 4.0
    assert "total deadline of 3s exceeded" in str(info.value)


def test_read_timeout_when_the_server_goes_silent(server, fetcher) -> None:
    def silent(req: Request) -> None:
        time.sleep(2.5)

    server.route("/silent", silent)
    with pytest.raises(FetchTimeout) as info:
        fetcher.get(server.url("/silent"), kind="feed")
    assert "no data for 1.5s" in str(info.value)


def test_gzip_bomb_page_stops_at_the_cap_with_low_memory(pages, gzip_bomb) -> None:
    assert len(gzip_bomb) < 1_100_000
    pages.route(
        "/bomb",
        Response(
            200,
            gzip_bomb,
            {"Content-Encoding": "gzip", "Connection": "close"},
            "text/html; charset=utf-8",
        ),
    )
    with Fetcher(settings(max_page_bytes=2_000_000)) as f:
        tracemalloc.start()
        try:
            with pytest.raises(ResponseTooLarge) as info:
                f.get(pages.url("/bomb"), kind="page")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert f.bytes_received < 200_000  # stopped after a few KB of the 1 MB body
    # the cap (2 MB) plus buffers: one 64 KB compressed read inflated at once would be 64 MB
    assert peak < 8_000_000
    assert "larger than the cap of 2,000,000 bytes after decompression" in str(info.value)
    assert pages.url("/bomb") in str(info.value)


def test_gzip_body_within_the_cap_is_decompressed(server, fetcher) -> None:
    body = gzip.compress(FEED) + gzip.compress(b"")  # two members, as some servers send
    server.route("/feed", Response(200, body, {"Content-Encoding": "gzip"}, RSS))
    server.route("/deflate", Response(200, zlib.compress(FEED), {"Content-Encoding": "deflate"}))
    response = fetcher.get(server.url("/feed"), kind="feed")
    assert response.content == FEED and response.bytes_received == len(body)
    assert fetcher.get(server.url("/deflate"), kind="feed").content == FEED


def test_50mb_page_with_content_length_is_refused_before_download(pages, fetcher) -> None:
    big = Response(200, b"<html>" + b"a" * 50_000_000, {"Connection": "close"}, "text/html")
    pages.route("/big", big)
    with pytest.raises(ResponseTooLarge) as info:
        fetcher.get(pages.url("/big"), kind="page")
    assert "50,000,006 bytes (Content-Length)" in str(info.value)
    assert fetcher.bytes_received < 1_000_000


def test_50mb_streamed_page_without_length_stops_at_the_cap(pages, fetcher) -> None:
    def stream(req: Request) -> None:
        w = req.handler.wfile
        w.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n")
        chunk = b"a" * 1_000_000
        try:
            for _ in range(50):
                w.write(chunk)
        except OSError:
            return

    pages.route("/stream", stream)
    with pytest.raises(ResponseTooLarge) as info:
        fetcher.get(pages.url("/stream"), kind="page")
    assert "larger than the cap of 5,000,000 bytes" in str(info.value)
    assert fetcher.bytes_received < 8_000_000


def test_redirect_loop(pages, fetcher) -> None:
    pages.route("/a", Response(302, b"", {"Location": "/b"}))
    pages.route("/b", Response(302, b"", {"Location": "/a"}))
    with pytest.raises(TooManyRedirects) as info:
        fetcher.get(pages.url("/a"), kind="page")
    assert "Redirect loop" in str(info.value) and pages.url("/a") in str(info.value)
    assert len(pages.requests_to("/a")) == 1


def test_too_many_redirects(pages) -> None:
    for i in range(5):
        pages.route(f"/r{i}", Response(307, b"", {"Location": f"/r{i + 1}"}))
    with Fetcher(settings(max_redirects=3)) as f, pytest.raises(TooManyRedirects) as info:
        f.get(pages.url("/r0"), kind="page")
    assert "More than 3 redirects" in str(info.value)
    assert len(pages.requests_to("/r4")) == 0


def test_per_host_concurrency_limit_is_honoured(pages) -> None:
    lock = threading.Lock()
    state = {"now": 0, "max": 0}

    def slow(req: Request) -> Response:
        with lock:
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])
        time.sleep(0.25)
        with lock:
            state["now"] -= 1
        return Response(200, b"<html>page</html>")

    urls = [pages.url(f"/p{i}") for i in range(8)]
    for i in range(8):
        pages.route(f"/p{i}", slow)
    with Fetcher(settings(per_host_concurrency=2)) as f:
        started = time.monotonic()
        results = fetch_pages(f, urls, max_workers=8)
        took = time.monotonic() - started
    assert list(results) == urls
    assert all(not isinstance(r, FetchError) and r.content == b"<html>page</html>"
               for r in results.values())  # fmt: skip
    assert state["max"] == 2  # parallel, but never more than 2 at the host
    assert took >= 4 * 0.25 * 0.9


def test_waiting_for_a_host_slot_does_not_eat_the_deadline(pages) -> None:
    """4 pages of 0.4 s queued on one slot take 1.6 s; each still has its own 1 s deadline."""

    def slow(req: Request) -> Response:
        time.sleep(0.4)
        return Response(200, b"<html>page</html>")

    urls = [pages.url(f"/q{i}") for i in range(4)]
    for i in range(4):
        pages.route(f"/q{i}", slow)
    with Fetcher(settings(per_host_concurrency=1, total_timeout=1.0)) as f:
        started = time.monotonic()
        results = fetch_pages(f, urls, max_workers=4)
        took = time.monotonic() - started
    assert [type(r).__name__ for r in results.values()] == ["FetchResponse"] * 4
    assert took >= 1.5
