"""Polling feeds against a real local HTTP server: conditional GET, moves, failures, backoff."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from monitors.errors import (
    FeedParseError,
    FetchError,
    HTTPStatusError,
    ResponseTooLarge,
)
from monitors.httpclient import Fetcher
from monitors.polling import FeedState, fetch_pages
from tests.support.fetching import FEED, INTERVAL, NOW, RSS, poll, rss, settings
from tests.support.httpserver import Request, Response

pytestmark = pytest.mark.timeout(60)


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
    assert first.state.next_due_at is not None
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


def test_gzip_bomb_feed_fails_the_poll(server, gzip_bomb) -> None:
    server.route(
        "/feed", Response(200, gzip_bomb, {"Content-Encoding": "gzip", "Connection": "close"}, RSS)
    )
    with Fetcher(settings(max_feed_bytes=1_000_000)) as f:
        result = poll(f, server.url("/feed"))
    assert result.status == "failed" and isinstance(result.error, ResponseTooLarge)
    assert "'Test Feed'" in result.message and "max_feed_bytes" in result.message


def test_fetch_pages_returns_errors_per_url(pages, fetcher) -> None:
    pages.route("/ok", Response(200, b"<html>fine</html>"))
    pages.route("/missing", Response(404, b"no"))
    results = fetch_pages(fetcher, [pages.url("/ok"), pages.url("/missing"), pages.url("/ok")])
    assert len(results) == 2
    missing = results[pages.url("/missing")]
    assert isinstance(missing, HTTPStatusError) and missing.status == 404
    assert "HTTP 404 Not Found" in str(missing) and pages.url("/missing") in str(missing)
    assert not isinstance(results[pages.url("/ok")], FetchError)
