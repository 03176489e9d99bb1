"""The fetching layer against a real local HTTP server, one test per fault.

Feeds are served on 127.0.0.1 (a feed's own host is trusted). Article pages are served on
127.0.0.2 with allow_networks=["127.0.0.2/32"], so the SSRF guard is live for every other
address, including 127.0.0.1 (all of 127/8 is bound to lo on Linux).
"""

from __future__ import annotations

import gzip
import random
import struct
import threading
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from monitors.errors import (
    BlockedAddress,
    FeedParseError,
    FetchError,
    FetchTimeout,
    HTTPStatusError,
    ResponseTooLarge,
    TooManyRedirects,
)
from monitors.fetch import (
    FeedState,
    Fetcher,
    FetchSettings,
    address_problem,
    backoff_delay,
    fetch_pages,
    parse_retry_after,
    poll_feed,
)
from tests.support.faults import unaccepting_port
from tests.support.httpserver import LocalHTTPServer, Request, Response

pytestmark = pytest.mark.timeout(60)

NOW = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
INTERVAL = timedelta(minutes=30)
PAGE_HOST = "127.0.0.2"
RSS = "application/rss+xml; charset=utf-8"


def rss(*items: tuple[str, str], encoding: str = "utf-8", decl: str | None = None) -> bytes:
    """An RSS 2.0 document with (title, link) items, encoded as asked."""
    head = decl if decl is not None else f'<?xml version="1.0" encoding="{encoding}"?>'
    body = "".join(
        f"<item><title>{t}</title><link>{link}</link><guid>{link}</guid>"
        f"<description>&lt;p&gt;About {t}&lt;/p&gt;</description>"
        "<pubDate>Fri, 01 Mar 2024 10:00:00 GMT</pubDate></item>"
        for t, link in items
    )
    doc = f'{head}<rss version="2.0"><channel><title>T</title>{body}</channel></rss>'
    return doc.encode(encoding)


FEED = rss(("One", "https://example.com/one?utm_source=rss"), ("Two", "https://example.com/two"))


def settings(**kw: object) -> FetchSettings:
    """Small limits so every fault resolves in about a second."""
    base: dict[str, object] = {
        "connect_timeout": 1.0,
        "read_timeout": 1.5,
        "total_timeout": 3.0,
        "allow_networks": [f"{PAGE_HOST}/32"],
    }
    base.update(kw)
    return FetchSettings.model_validate(base)


# One server per address for the module (each shutdown costs 0.5 s); routes and the request log
# are cleared before every test.
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


def poll(
    fetcher: Fetcher, url: str, state: FeedState | None = None, *, name: str = "Test Feed", **kw
):
    return poll_feed(
        fetcher,
        feed_name=name,
        state=state or FeedState(url=url),
        now=NOW,
        interval=INTERVAL,
        settings=fetcher.settings,
        rng=random.Random(1),
        **kw,
    )


# --- happy path ----------------------------------------------------------------------------
def test_feed_poll_parses_items_and_sends_user_agent(server, fetcher) -> None:
    server.route("/feed", Response(200, FEED, {"ETag": '"a"'}, RSS))
    result = poll(fetcher, server.url("/feed"))
    assert result.status == "ok", result.message
    assert [i.url for i in result.items] == ["https://example.com/one", "https://example.com/two"]
    assert result.state.etag == '"a"'
    assert result.state.next_due_at == NOW + INTERVAL
    ua = server.requests_to("/feed")[0].headers["User-Agent"]
    assert ua == "newsmon/0.1 (+https://github.com/newsmon/newsmon)"
    assert fetcher.requests == 1 and fetcher.bytes_received == len(FEED)


# --- timeouts -------------------------------------------------------------------------------
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


# --- status codes ---------------------------------------------------------------------------
def test_500_then_recovery_on_the_next_poll(server, fetcher) -> None:
    calls = {"n": 0}

    def flaky(req: Request) -> Response:
        calls["n"] += 1
        return Response(500, b"boom") if calls["n"] == 1 else Response(200, FEED, {}, RSS)

    server.route("/feed", flaky)
    first = poll(fetcher, server.url("/feed"))
    assert first.status == "failed"
    assert isinstance(first.error, HTTPStatusError) and first.error.status == 500
    assert "'Test Feed'" in first.message and "HTTP 500" in first.message
    assert first.state.consecutive_failures == 1
    delay = first.state.next_due_at - NOW
    assert 2 * INTERVAL * 0.9 <= delay <= 2 * INTERVAL * 1.1
    assert first.state.last_error == first.message

    second = poll(fetcher, server.url("/feed"), first.state)
    assert second.status == "ok" and len(second.items) == 2
    assert second.state.consecutive_failures == 0
    assert second.state.last_error is None
    assert second.state.next_due_at == NOW + INTERVAL


@pytest.mark.parametrize("form", ["seconds", "http-date"])
def test_429_retry_after_is_honoured(server, fetcher, form: str) -> None:
    wait = timedelta(hours=3)  # far later than the backoff (2 x 30 min)
    value = (
        str(int(wait.total_seconds()))
        if form == "seconds"
        else format_datetime(datetime.now(UTC) + wait, usegmt=True)
    )
    server.route("/feed", Response(429, b"slow down", {"Retry-After": value}))
    result = poll(fetcher, server.url("/feed"))
    assert result.status == "failed"
    assert isinstance(result.error, HTTPStatusError) and result.error.status == 429
    assert "rate-limiting" in result.message and "'Test Feed'" in result.message
    due = result.state.next_due_at
    assert due is not None
    assert NOW + wait - timedelta(seconds=5) <= due <= NOW + wait + timedelta(seconds=5)


def test_backoff_grows_exponentially_and_is_capped() -> None:
    s = FetchSettings(max_backoff_minutes=120)
    rng = random.Random(0)
    delays = [backoff_delay(INTERVAL, n, s, rng) for n in range(1, 6)]
    assert 0.9 * 60 <= delays[0].total_seconds() / 60 <= 1.1 * 60
    assert 0.9 * 120 <= delays[1].total_seconds() / 60 <= 1.1 * 120
    assert all(d <= timedelta(minutes=132) for d in delays)  # cap 120 min + 10% jitter
    assert len({d for d in delays}) == len(delays)  # jittered


def test_410_gone_disables_the_feed(server, fetcher) -> None:
    server.route("/feed", Response(410, b"gone"))
    result = poll(fetcher, server.url("/feed"))
    assert result.status == "gone"
    assert result.state.disabled_reason is not None
    assert "returned 410 Gone; the feed was disabled" in result.message
    assert "'Test Feed'" in result.message and server.url("/feed") in result.message
    assert result.state.next_due_at is None


def test_301_moves_the_feed(server, fetcher) -> None:
    server.route("/old", Response(301, b"", {"Location": "/new"}))
    server.route("/new", Response(200, FEED, {}, RSS))
    first = poll(fetcher, server.url("/old"))
    assert first.status == "ok" and len(first.items) == 2
    assert first.moved_to == server.url("/new")
    assert first.state.url == server.url("/new")
    assert "moved permanently" in first.message
    second = poll(fetcher, server.url("/old"), first.state)
    assert second.status == "ok" and second.moved_to is None
    assert len(server.requests_to("/old")) == 1 and len(server.requests_to("/new")) == 2


def test_302_is_followed_but_does_not_move_the_feed(server, fetcher) -> None:
    server.route("/feed", Response(302, b"", {"Location": "/today"}))
    server.route("/today", Response(200, FEED, {}, RSS))
    result = poll(fetcher, server.url("/feed"))
    assert result.status == "ok" and result.moved_to is None
    assert result.state.url == server.url("/feed")


# --- conditional GET ------------------------------------------------------------------------
def test_conditional_get_and_forced_full_fetch(server) -> None:
    def feed(req: Request) -> Response:
        validators = {"ETag": '"v1"', "Last-Modified": "Fri, 01 Mar 2024 10:00:00 GMT"}
        if req.headers.get("If-None-Match") == '"v1"':
            return Response(304, b"", validators)
        return Response(200, FEED, validators, RSS)

    server.route("/feed", feed)
    with Fetcher(settings(force_full_fetch_every=3)) as f:
        statuses = []
        state = FeedState(url=server.url("/feed"))
        for _ in range(5):
            result = poll(f, server.url("/feed"), state)
            statuses.append(result.status)
            state = result.state
    # polls 1 and 4 are unconditional (every 3rd poll), the others revalidate
    assert statuses == ["ok", "not_modified", "not_modified", "ok", "not_modified"]
    sent = [
        (r.headers.get("If-None-Match"), r.headers.get("If-Modified-Since"))
        for r in server.requests_to("/feed")
    ]
    cond = ('"v1"', "Fri, 01 Mar 2024 10:00:00 GMT")
    assert sent == [(None, None), cond, cond, (None, None), cond]
    assert state.etag == '"v1"'


def test_cache_control_max_age_is_honoured_and_capped(server, fetcher) -> None:
    server.route("/2h", Response(200, FEED, {"Cache-Control": "public, max-age=7200"}, RSS))
    server.route("/1y", Response(200, FEED, {"Cache-Control": "max-age=31536000"}, RSS))
    server.route("/short", Response(200, FEED, {"Cache-Control": "max-age=60"}, RSS))
    assert poll(fetcher, server.url("/2h")).state.next_due_at == NOW + timedelta(hours=2)
    capped = NOW + timedelta(minutes=fetcher.settings.max_cache_minutes)
    assert poll(fetcher, server.url("/1y")).state.next_due_at == capped
    assert poll(fetcher, server.url("/short")).state.next_due_at == NOW + INTERVAL


# --- bodies that are not usable feeds ---------------------------------------------------------
BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
        for i in range(1, 10)
    )
    + b']><rss version="2.0"><channel><title>&lol9;</title></channel></rss>'
)
XXE = (
    b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b'<rss version="2.0"><channel><title>t</title><item><title>&xxe;</title>'
    b"<link>https://example.com/x</link></item></channel></rss>"
)


@pytest.mark.parametrize(
    ("body", "content_type", "cause"),
    [
        pytest.param(BILLION_LAUGHS, RSS, "declares XML entities", id="billion-laughs"),
        pytest.param(XXE, RSS, "declares XML entities", id="external-entity"),
        pytest.param(
            b"<!DOCTYPE html><html><body><h1>Welcome</h1></body></html>",
            "text/html",
            "is HTML, not RSS/Atom; check the feed URL",
            id="html",
        ),
        pytest.param(
            b'<?xml version="1.0"?><rss version="2.0"><channel><item><title>x</ti',
            RSS,
            "is not a readable RSS/Atom document",
            id="malformed-unrecoverable",
        ),
        pytest.param(b"", RSS, "returned an empty body", id="empty-body"),
    ],
)
def test_unusable_feed_bodies_fail_with_a_message(server, fetcher, body, content_type, cause):
    server.route("/feed", Response(200, body, {}, content_type))
    started = time.monotonic()
    result = poll(fetcher, server.url("/feed"))
    assert time.monotonic() - started < 2  # the billion laughs is refused, not expanded
    assert result.status == "failed"
    assert isinstance(result.error, FeedParseError)
    assert cause in result.message
    assert "'Test Feed'" in result.message and server.url("/feed") in result.message
    assert result.state.consecutive_failures == 1


def test_malformed_feed_with_recoverable_entries_is_accepted(server, fetcher) -> None:
    broken = rss(("Kim & Putin <meet", "https://example.com/a"), ("Two", "https://example.com/b"))
    server.route("/feed", Response(200, broken, {}, RSS))
    result = poll(fetcher, server.url("/feed"))
    assert result.status == "ok", result.message
    assert [i.url for i in result.items] == ["https://example.com/a", "https://example.com/b"]


def test_empty_feed_is_ok_with_no_items(server, fetcher) -> None:
    server.route("/feed", Response(200, rss(), {}, RSS))
    result = poll(fetcher, server.url("/feed"))
    assert result.status == "ok" and result.items == []
    assert result.state.consecutive_failures == 0


@pytest.mark.parametrize(
    ("title", "encoding"),
    [
        ("Северная Корея и Россия обсудили поставки оружия и спутниковые технологии", "cp1251"),
        ("Élysée: la Corée du Nord et la Russie signent un accord à Vladivostok", "latin-1"),
    ],
)
def test_non_utf8_feed_with_a_wrong_declared_charset(server, fetcher, title, encoding) -> None:
    body = rss((title, "https://example.com/a"), encoding=encoding, decl='<?xml version="1.0" '
               'encoding="utf-8"?>')  # fmt: skip
    body.decode(encoding)  # really in that encoding
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")  # and really not what it declares
    server.route("/feed", Response(200, body, {}, "application/rss+xml; charset=utf-8"))
    result = poll(fetcher, server.url("/feed"))
    assert result.status == "ok", result.message
    assert result.items[0].title == title


# --- size caps ------------------------------------------------------------------------------
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


def test_gzip_bomb_feed_fails_the_poll(server, gzip_bomb) -> None:
    server.route(
        "/feed", Response(200, gzip_bomb, {"Content-Encoding": "gzip", "Connection": "close"}, RSS)
    )
    with Fetcher(settings(max_feed_bytes=1_000_000)) as f:
        result = poll(f, server.url("/feed"))
    assert result.status == "failed" and isinstance(result.error, ResponseTooLarge)
    assert "'Test Feed'" in result.message and "max_feed_bytes" in result.message


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


# --- redirects and the SSRF guard ------------------------------------------------------------
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


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("http://127.0.0.1:{port}/secret", "loopback address"),
        ("http://169.254.169.254/latest/meta-data/", "link-local address"),
        ("http://10.1.2.3/", "private network address"),
        ("file:///etc/passwd", "scheme 'file' is not http or https"),
    ],
)
def test_page_redirect_to_an_internal_address_is_refused(pages, server, fetcher, target, reason):
    server.route("/secret", Response(200, b"internal"))
    pages.route("/go", Response(302, b"", {"Location": target.format(port=server.port)}))
    started = time.monotonic()
    with pytest.raises(BlockedAddress) as info:
        fetcher.get(pages.url("/go"), kind="page")
    assert time.monotonic() - started < 1  # refused before any connection attempt
    assert reason in str(info.value) and pages.url("/go") in str(info.value)
    assert server.requests_to("/secret") == []


def test_page_on_a_private_host_is_refused_but_allow_networks_opens_it(server) -> None:
    server.route("/page", Response(200, b"<html>ok</html>"))
    with Fetcher(settings()) as f, pytest.raises(BlockedAddress) as info:
        f.get(server.url("/page"), kind="page")
    assert "127.0.0.1 is a loopback address" in str(info.value)
    assert "fetch.allow_networks" in str(info.value)
    with Fetcher(settings(allow_networks=["127.0.0.0/8"])) as f:
        assert f.get(server.url("/page"), kind="page").content == b"<html>ok</html>"


def test_feed_host_is_trusted_but_a_redirect_off_host_is_checked(server, pages) -> None:
    """Feeds on 127.0.0.1 work (the user configured them); their redirects elsewhere do not."""
    server.route("/feed", Response(200, FEED, {}, RSS))
    pages.route("/feed", Response(302, b"", {"Location": server.url("/feed")}))
    with Fetcher(settings(allow_networks=[])) as f:
        assert f.get(server.url("/feed"), kind="feed").status == 200
        result = poll(f, pages.url("/feed"))
    assert result.status == "failed" and isinstance(result.error, BlockedAddress)
    assert "redirects off its own host" in result.message
    assert len(server.requests_to("/feed")) == 1


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("8.8.8.8", None),
        ("2001:4860:4860::8888", None),
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("100.64.0.1", "CGNAT"),
        ("fc00::1", "private"),
        ("fd12:3456::1", "private"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 of 169.254.169.254
    ],
)
def test_address_problem(address: str, problem: str | None) -> None:
    import ipaddress

    got = address_problem(ipaddress.ip_address(address))
    if problem is None:
        assert got is None
    else:
        assert got is not None and problem in got


def test_allow_networks_must_be_cidrs() -> None:
    with pytest.raises(ValueError, match="not a CIDR network"):
        FetchSettings(allow_networks=["intranet"])


# --- concurrency ----------------------------------------------------------------------------
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


def test_fetch_pages_returns_errors_per_url(pages, fetcher) -> None:
    pages.route("/ok", Response(200, b"<html>fine</html>"))
    pages.route("/missing", Response(404, b"no"))
    results = fetch_pages(fetcher, [pages.url("/ok"), pages.url("/missing"), pages.url("/ok")])
    assert len(results) == 2
    missing = results[pages.url("/missing")]
    assert isinstance(missing, HTTPStatusError) and missing.status == 404
    assert "HTTP 404 Not Found" in str(missing) and pages.url("/missing") in str(missing)
    assert not isinstance(results[pages.url("/ok")], FetchError)


def test_parse_retry_after_forms() -> None:
    now = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Fri, 01 Mar 2024 12:10:00 GMT", now=now) == 600.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
