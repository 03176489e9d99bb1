"""A small real news site for pipeline and flow tests, built from the bundled sample pages.

Feeds are generated RSS; article pages are the real sample pages (`samples/articles/...`),
served by the real local HTTP server.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from email.utils import format_datetime
from pathlib import Path

from tests.support.httpserver import LocalHTTPServer, Request, Response

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


@dataclass
class Entry:
    """One feed entry pointing at a page on the test server."""

    guid: str
    title: str
    path: str
    pubdate: str
    description: str


def sample_page(slug: str, suffix: str, base: str) -> tuple[str, bytes]:
    """(title, page bytes) of a bundled sample article, with links pointing at `base`."""
    raw = (SAMPLES / "articles" / slug / f"{suffix}.html").read_text(encoding="utf-8")
    title = html.unescape(re.search(r'<meta property="og:title" content="([^"]*)"', raw)[1])  # type: ignore[index]
    return title, raw.replace("{{BASE}}", base).encode("utf-8")


def sample_entry(slug: str, suffix: str) -> Entry:
    """The feed entry of a sample article, as in the bundled feed."""
    feed = (SAMPLES / "feeds" / f"{slug}.xml").read_text(encoding="utf-8")
    for block in feed.split("<item>")[1:]:
        if f'<guid isPermaLink="false">{slug}:{suffix}</guid>' in block:
            title = re.search(r"<title>(.*?)</title>", block, re.S)[1]  # type: ignore[index]
            pub = re.search(r"<pubDate>(.*?)</pubDate>", block, re.S)[1]  # type: ignore[index]
            desc = re.search(r"<description>(.*?)</description>", block, re.S)[1]  # type: ignore[index]
            return Entry(
                f"{slug}:{suffix}",
                html.unescape(title),
                f"/articles/{slug}/{suffix}.html",
                pub,
                desc,
            )
    raise KeyError(f"{slug}:{suffix} not in samples/feeds/{slug}.xml")


def rss(title: str, entries: list[Entry], base: str) -> bytes:
    """An RSS 2.0 document of `entries` with links on `base`."""
    items = "".join(
        f"<item><title>{html.escape(e.title)}</title><link>{base}{e.path}</link>"
        f'<guid isPermaLink="false">{e.guid}</guid><pubDate>{e.pubdate}</pubDate>'
        f"<description>{e.description}</description></item>"
        for e in entries
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title}'
        f"</title><link>{base}/</link><description>test</description>{items}</channel></rss>"
    ).encode()


def serve_sample(server: LocalHTTPServer, slug: str, suffix: str) -> Entry:
    """Route a sample page on `server` and return its feed entry."""
    entry = sample_entry(slug, suffix)
    _, page = sample_page(slug, suffix, server.base_url)
    server.route(entry.path, Response(200, page))
    return entry


def serve_feed(server: LocalHTTPServer, path: str, entries: list[Entry]) -> str:
    """Route an RSS feed of `entries` at `path`; returns its URL."""
    server.route(
        path,
        Response(
            200,
            rss(path, entries, server.base_url),
            content_type="application/rss+xml; charset=utf-8",
        ),
    )
    return server.url(path)


def conditional(site: LocalHTTPServer, path: str, etag: str = '"v1"') -> None:
    """Make the feed at `path` answer conditional GETs: ETag, and 304 when it matches."""
    plain = site.routes[path]
    assert isinstance(plain, Response)
    tagged = Response(plain.status, plain.body, {"ETag": etag}, plain.content_type)

    def handler(req: Request) -> Response:
        sent = {k.lower(): v for k, v in req.headers.items()}.get("if-none-match")
        return Response(304, b"", {"ETag": etag}) if sent == etag else tagged

    site.route(path, handler)


def now_rfc822() -> str:
    """The current time as an RFC 822 date."""
    from datetime import UTC, datetime

    return format_datetime(datetime.now(UTC), usegmt=True)
