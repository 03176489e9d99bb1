"""The benchmark's local news site: rss2023 stories as feed XML and article pages, served."""

from __future__ import annotations

import gzip
import hashlib
import html
import json
import os
import re
import signal
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any

from scripts.build_dedup_pairs_text import html_to_text, read_jsonl
from tests.support.httpserver import LocalHTTPServer, Request, Response

REPO = Path(__file__).resolve().parents[1]
CORPUS_DIRS = (
    Path("/work/shared/corpora/rss2023"),
    REPO.parent / "shared" / "corpora" / "rss2023",
)
SAMPLES = REPO / "samples" / "articles"
HOSTS = [f"127.0.0.{i}" for i in range(2, 10)]
#: rss2023 entries per page: the first gives headline and standfirst, the rest the body.
MAX_ENTRIES_PER_PAGE = 7

# server-side counters (shared memory between the server process and this one)
FEED_REQUESTS, FEED_304, PAGE_REQUESTS, BYTES_SENT, IGNORE_VALIDATORS = range(5)
N_COUNTERS = 5


# --- text ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Entry:
    """One real news entry: the unit pages are built from."""

    id: str
    outlet: str
    date: datetime
    title: str
    paragraphs: tuple[str, ...]


def _date(value: str) -> datetime:
    try:
        d = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return datetime(2023, 9, 1, tzinfo=UTC)
    return d if d.tzinfo else d.replace(tzinfo=UTC)


def corpus_dir() -> Path | None:
    """The rss2023 folder, if present."""
    for d in CORPUS_DIRS:
        if d.is_dir() and any(d.glob("*.jsonl.gz")):
            return d
    return None


def load_entries() -> tuple[dict[str, list[Entry]], str]:
    """Real entries grouped by outlet (in date order), and a description of the source."""
    by_outlet: dict[str, list[Entry]] = {}
    d = corpus_dir()
    if d is not None:
        for path in sorted(d.glob("*.jsonl.gz")):
            for r in read_jsonl(path):
                paras = tuple(p for p in html_to_text(r.get("description") or "").split("\n") if p)
                if not r.get("title") or not paras:
                    continue
                by_outlet.setdefault(r["outlet"], []).append(
                    Entry(r["id"], r["outlet"], _date(r["date"]), r["title"].strip(), paras)
                )
        return by_outlet, f"rss2023 entries ({d})"
    tag = re.compile(r"<[^>]+>")
    for path in sorted(SAMPLES.glob("*/*.html")):
        raw = path.read_text(encoding="utf-8")
        title = re.search(r'<meta property="og:title" content="([^"]*)"', raw)
        site = re.search(r'<meta property="og:site_name" content="([^"]*)"', raw)
        when = re.search(r'<meta property="article:published_time" content="([^"]*)"', raw)
        paras = tuple(
            html.unescape(tag.sub("", p)).strip()
            for p in re.findall(r"<p>(.*?)</p>", raw, re.S)
            if p.strip()
        )
        if title is None or not paras:
            continue
        outlet = html.unescape(site[1]) if site else path.parent.name
        by_outlet.setdefault(outlet, []).append(
            Entry(
                f"{path.parent.name}:{path.stem}",
                outlet,
                _date(when[1]) if when else datetime(2023, 9, 1, tzinfo=UTC),
                html.unescape(title[1]),
                paras,
            )
        )
    return by_outlet, f"bundled sample pages ({SAMPLES})"


def slug(text: str) -> str:
    """A URL-safe slug of an outlet name."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "site"


# --- the site ------------------------------------------------------------------------------
@dataclass
class Story:
    """One article page: its entries, URL path and host."""

    host: int
    path: str
    entries: list[Entry]

    @property
    def lead(self) -> Entry:
        """The entry giving headline, date and standfirst."""
        return self.entries[0]


@dataclass
class SiteFeed:
    """One feed: its path, host, outlet and stories."""

    host: int
    path: str
    outlet: str
    stories: list[Story] = field(default_factory=list)


@dataclass
class Plan:
    """What is served where."""

    feeds: list[SiteFeed]
    source: str
    entries_per_page: int
    reused_entries: bool


def make_plan(n_feeds: int, n_items: int, cross_listed: int = 0) -> Plan:
    """Assign outlets to feeds (by how much text each outlet has) and entries to pages.

    With `cross_listed` N, the last N entries of each feed from the 9th on are the first N
    entries of the feed 8 before it (same host): one article listed in two feeds of a site.
    """
    by_outlet, source = load_entries()
    total = sum(len(v) for v in by_outlet.values())
    n_pages = n_feeds * n_items
    k = max(1, min(MAX_ENTRIES_PER_PAGE, total // max(1, n_pages)))
    capacity = {o: len(v) // k for o, v in by_outlet.items()}
    cursor = dict.fromkeys(by_outlet, 0)
    reused = False
    feeds: list[SiteFeed] = []
    for f in range(n_feeds):
        outlet = max(sorted(capacity), key=lambda o: capacity[o])
        capacity[outlet] -= n_items
        feed = SiteFeed(host=f % len(HOSTS), path=f"/feeds/{f:03d}.xml", outlet=outlet)
        pool = by_outlet[outlet]
        for i in range(n_items):
            start = cursor[outlet]
            if start + k > len(pool):
                reused = True
            entries = [pool[(start + j) % len(pool)] for j in range(k)]
            cursor[outlet] = start + k
            lead = entries[0]
            key = hashlib.sha1(f"{lead.id}/{f}/{i}".encode()).hexdigest()[:10]
            feed.stories.append(
                Story(feed.host, f"/articles/{slug(outlet)}/{f:03d}-{i:02d}-{key}.html", entries)
            )
        feeds.append(feed)
    n = min(cross_listed, n_items)
    for f in range(len(HOSTS), n_feeds) if n else ():
        feeds[f].stories[-n:] = feeds[f - len(HOSTS)].stories[:n]
    return Plan(feeds, source, k, reused)


_SECTIONS = (
    "World", "Europe", "Asia", "Americas", "Africa", "Middle-East", "UK", "US", "Politics",
    "Business", "Markets", "Economy", "Technology", "Science", "Climate", "Health", "Education",
    "Opinion", "Analysis", "Sport", "Football", "Cricket", "Tennis", "Culture", "Books", "Music",
    "Film", "TV", "Travel", "Food", "Lifestyle", "Obituaries", "Podcasts", "Video", "Newsletters",
)  # fmt: skip


def page_html(story: Story, base: str, related: list[Story]) -> bytes:
    """A news-site page for a story: the layout of a real site around its real text."""
    lead = story.lead
    e = html.escape
    outlet = e(lead.outlet)
    when = lead.date.strftime("%Y-%m-%dT%H:%M:%SZ")
    url = f"{base}{story.path}"
    body: list[str] = [f'<p class="standfirst">{e(lead.paragraphs[0])}</p>']
    body += [f"<p>{e(p)}</p>" for p in lead.paragraphs[1:]]
    for entry in story.entries[1:]:
        body.append(f"<h2>{e(entry.title)}</h2>")
        body += [f"<p>{e(p)}</p>" for p in entry.paragraphs]
    ld = json.dumps(
        {
            "@context": "https://schema.org",
            "@type": "NewsArticle",
            "headline": lead.title,
            "datePublished": when,
            "publisher": {"@type": "Organization", "name": lead.outlet},
            "mainEntityOfPage": url,
        }
    )
    config = json.dumps(
        {
            "page": {"id": lead.id, "section": "world", "keywords": lead.title.split()[:12]},
            "ads": [{"slot": f"slot-{i}", "sizes": [[300, 250], [728, 90]]} for i in range(24)],
            "switches": {f"feature{i}": i % 3 == 0 for i in range(120)},
        }
    )
    nav = "".join(f'<li><a href="{base}/section/{s.lower()}">{s}</a></li>' for s in _SECTIONS)
    more = "".join(
        f'<li><a href="{base}{r.path}">{e(r.lead.title)}</a>'
        f"<time>{r.lead.date:%d %b %Y}</time></li>"
        for r in related
    )
    foot = "".join(
        f'<li><a href="{base}/info/{s.lower()}">{s}</a></li>'
        for s in (
            "About us",
            "Contact",
            "Complaints",
            "Careers",
            "Privacy policy",
            "Cookie policy",
            "Terms",
            "Accessibility",
            "Advertise",
            "Newsletters",
            "Archive",
            "Help",
        )
    )
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{e(lead.title)} | {outlet}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="description" content="{e(lead.paragraphs[0][:300])}">
<meta property="og:type" content="article">
<meta property="og:title" content="{e(lead.title)}">
<meta property="og:site_name" content="{outlet}">
<meta property="og:url" content="{url}">
<meta property="article:published_time" content="{when}">
<link rel="canonical" href="{url}">
<link rel="stylesheet" href="{base}/static/site.css">
<script type="application/ld+json">{ld}</script>
<script>window.__config = {config};</script>
<script async src="{base}/static/analytics.js"></script>
<style>.standfirst{{font-size:1.2em}}.related li{{margin:0 0 .5em}}nav ul{{display:flex}}</style>
</head>
<body>
<a class="skip" href="#main">Skip to main content</a>
<header class="site-header"><a class="logo" href="{base}/">{outlet}</a>
<nav aria-label="Sections"><ul>{nav}</ul></nav>
<form action="{base}/search"><input name="q" placeholder="Search"></form>
<a href="{base}/subscribe">Subscribe</a> <a href="{base}/login">Sign in</a></header>
<div class="ad" id="ad-top">Advertisement</div>
<main id="main">
<article>
<h1>{e(lead.title)}</h1>
<div class="meta"><span class="byline">By {outlet} staff</span>
<time datetime="{when}">{lead.date:%a %d %b %Y %H.%M} UTC</time></div>
<div class="share"><a href="#">Share on Facebook</a> <a href="#">Share on X</a>
<a href="#">Email</a></div>
<div class="article-body">
{chr(10).join(body)}
</div>
<div class="tags"><a href="{base}/section/world">World news</a></div>
</article>
<aside class="related"><h2>More on this story</h2><ul>{more}</ul></aside>
<div class="ad" id="ad-bottom">Advertisement</div>
</main>
<footer><ul>{foot}</ul><p>&copy; 2023 {outlet}. All rights reserved.</p></footer>
<script>document.querySelectorAll('.ad').forEach(function(a){{a.dataset.ready='1'}});</script>
</body>
</html>
"""
    return page.encode("utf-8")


def feed_xml(feed: SiteFeed, base: str) -> bytes:
    """The RSS 2.0 document of a feed, newest entry first."""
    e = html.escape
    items = "".join(
        f"<item><title>{e(s.lead.title)}</title><link>{base}{s.path}</link>"
        f'<guid isPermaLink="false">{e(s.lead.id)}@{e(s.path)}</guid>'
        f"<pubDate>{format_datetime(s.lead.date, usegmt=True)}</pubDate>"
        f"<description>{e(s.lead.paragraphs[0])}</description></item>"
        for s in sorted(feed.stories, key=lambda s: s.lead.date, reverse=True)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{e(feed.outlet)} ({feed.path})</title><link>{base}/</link>"
        f"<description>{e(feed.outlet)}</description>{items}</channel></rss>"
    ).encode()


@dataclass(frozen=True)
class Body:
    """A response body, raw and gzipped (negotiated per request)."""

    raw: bytes
    gz: bytes
    content_type: str


def _body(raw: bytes, content_type: str) -> Body:
    return Body(raw, gzip.compress(raw, compresslevel=6, mtime=0), content_type)


def _send(body: Body, req: Request, headers: dict[str, str]) -> tuple[Response, int]:
    if "gzip" in req.headers.get("Accept-Encoding", "").lower():
        data, extra = body.gz, {"Content-Encoding": "gzip", "Vary": "Accept-Encoding"}
    else:
        data, extra = body.raw, {"Vary": "Accept-Encoding"}
    return Response(200, data, {**headers, **extra}, content_type=body.content_type), len(data)


def _not_modified(req: Request, etag: str, last_modified: datetime) -> bool:
    inm = req.headers.get("If-None-Match")
    if inm is not None:  # If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2)
        tags = [t.strip().removeprefix("W/") for t in inm.split(",")]
        return "*" in tags or etag in tags
    ims = req.headers.get("If-Modified-Since")
    if ims:
        try:
            return parsedate_to_datetime(ims) >= last_modified.replace(microsecond=0)
        except (TypeError, ValueError):
            return False
    return False


def _count(counters: Any, index: int, sent: int) -> None:
    with counters.get_lock():
        counters[index] += 1
        counters[BYTES_SENT] += sent


def build_site(plan: Plan, counters: Any) -> tuple[list[LocalHTTPServer], dict[str, int]]:
    """Bind one server per loopback address and route every feed and page (not started)."""
    servers = [LocalHTTPServer(host) for host in HOSTS]
    sizes: Counter[str] = Counter()
    for feed in plan.feeds:
        srv = servers[feed.host]
        base = srv.base_url
        for i, story in enumerate(feed.stories):
            if story.path in srv.routes:  # cross-listed: served once
                continue
            related = [feed.stories[(i + j) % len(feed.stories)] for j in range(1, 9)]
            body = _body(page_html(story, base, related), "text/html; charset=utf-8")
            sizes["pages"] += 1
            sizes["page_bytes"] += len(body.raw)
            sizes["page_gz_bytes"] += len(body.gz)

            def serve_page(req: Request, body: Body = body) -> Response:
                resp, sent = _send(body, req, {})
                _count(counters, PAGE_REQUESTS, sent)
                return resp

            srv.route(story.path, serve_page)
        xml = _body(feed_xml(feed, base), "application/rss+xml; charset=utf-8")
        sizes["feeds"] += 1
        sizes["feed_bytes"] += len(xml.raw)
        etag = f'"{hashlib.sha1(xml.raw).hexdigest()[:20]}"'
        modified = max(s.lead.date for s in feed.stories)
        validators = {"ETag": etag, "Last-Modified": format_datetime(modified, usegmt=True)}

        def serve_feed(
            req: Request, xml: Body = xml, etag: str = etag, modified: datetime = modified,
            validators: dict[str, str] = validators,
        ) -> Response:  # fmt: skip
            if not counters[IGNORE_VALIDATORS] and _not_modified(req, etag, modified):
                _count(counters, FEED_304, 0)
                return Response(304, b"", validators, content_type=xml.content_type)
            resp, sent = _send(xml, req, validators)
            _count(counters, FEED_REQUESTS, sent)
            return resp

        srv.route(feed.path, serve_feed)
    for srv in servers:
        srv.route("/", Response(200, b"bench site"))
    return servers, dict(sizes)


def _serve_forever(servers: list[LocalHTTPServer]) -> None:  # in the forked server process
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    for srv in servers:
        srv.start()
    threading.Event().wait()
