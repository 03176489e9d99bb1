"""Shared fixtures of the fetching tests: one feed server and one page server per module.

Each server shutdown costs 0.5 s, so the servers live for the module; routes and the request log
are cleared before every test.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator

import pytest

from monitors.httpclient import Fetcher
from tests.support.fetching import PAGE_HOST, settings
from tests.support.httpserver import LocalHTTPServer


@pytest.fixture(scope="module")
def _feed_server() -> Iterator[LocalHTTPServer]:
    with LocalHTTPServer("127.0.0.1") as srv:
        yield srv


@pytest.fixture(scope="module")
def _page_server() -> Iterator[LocalHTTPServer]:
    with LocalHTTPServer(PAGE_HOST) as srv:
        yield srv


def _fresh(srv: LocalHTTPServer) -> LocalHTTPServer:
    srv.routes.clear()
    with srv._lock:
        srv.requests.clear()
    return srv


@pytest.fixture
def server(_feed_server: LocalHTTPServer) -> LocalHTTPServer:
    """The feed server on 127.0.0.1 (trusted for feeds, blocked for pages)."""
    return _fresh(_feed_server)


@pytest.fixture
def pages(_page_server: LocalHTTPServer) -> LocalHTTPServer:
    """The article server on 127.0.0.2 (in allow_networks)."""
    return _fresh(_page_server)


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    with Fetcher(settings()) as f:
        yield f


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    """A valid single-member gzip body of 1 GiB of zeros, about 1 MB on the wire.

    Deflate output after a full flush does not depend on earlier data, so the compressed block
    for 1 MiB of zeros is computed once and repeated 1024 times (0.5 s instead of 5 s).
    """
    mib = bytes(1 << 20)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    block = deflate.compress(mib) + deflate.flush(zlib.Z_FULL_FLUSH)
    final = deflate.flush()
    crc = 0
    for _ in range(1024):
        crc = zlib.crc32(mib, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    return header + block * 1024 + final + struct.pack("<II", crc, (1 << 30) & 0xFFFFFFFF)
