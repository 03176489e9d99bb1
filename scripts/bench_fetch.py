"""Benchmark of fetching (issue 3): a first poll of many feeds, then a re-poll with nothing new.

    .venv/bin/python -m scripts.bench_fetch [--feeds 200 --items 50] [--threads 8]
        [--cross-listed N] [--quick]

A real local news site: `--feeds` RSS feeds of `--items` entries each, spread over 8 loopback
addresses (127.0.0.2 ... 127.0.0.9, one ThreadingHTTPServer each, so the fetcher sees 8 hosts
and applies its per-host limit to each). The servers run in a child process (forked before any
thread starts) so their request handling does not share the pipeline's GIL. Feeds answer
conditional requests (If-None-Match / If-Modified-Since) with 304; feeds and pages are gzipped
when asked, as news sites do.

Article pages are built from real text: consecutive rss2023 entries of one outlet (title +
description; `/work/shared/corpora/rss2023`, else `../shared/corpora/rss2023` next to the
checkout) make one multi-paragraph page (headline, standfirst, body, cross-heads) inside a
news-site layout (head with JSON-LD and inline scripts, navigation, related links, footer).
Without the corpus the bundled `samples/articles/**.html` texts are used instead.

Every pass is `pipeline.run.run_pass(force=True)` on a fresh SQLite database in a temporary
directory, with `--threads` feeds polled at once through one shared `Fetcher` and a stage
runner that times each stage (prepare, poll per feed, extract, process, health, deliver).
Reported per
pass: wall time and per stage, HTTP requests and bytes received (the Fetcher's counters), feed
and page requests and 304s counted at the server, and extraction calls (ExtractJobs that had
HTML). A third pass re-polls with the server ignoring validators (200 with the same body: a
server without ETag/Last-Modified, or the periodic unconditional fetch). The re-polls must make
no extraction call and no page request (exit 1 otherwise); the 304 re-poll's wall time is
reported as a percentage of the first poll (target: at most 5%). `--cross-listed N` lists N
entries of each feed in a second feed of the same host, to count duplicate page fetches.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import html
import json
import multiprocessing as mp
import os
import platform
import re
import resource
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from monitors.clock import utcnow
from monitors.config import MonitorConfig, parse_config
from monitors.httpclient import Fetcher
from monitors.kinds import PollStatus
from pipeline import harvest as harvest_stage
from pipeline.extract import Candidate
from pipeline.harvest import Harvest
from pipeline.run import run_pass
from scripts.build_dedup_pairs import html_to_text, read_jsonl
from storage import repo_feeds
from storage.db import get_engine
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
#: The re-poll's wall time as a share of the first poll's (issue 3's target).
TARGET_RATIO = 0.05

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


# --- the passes ----------------------------------------------------------------------------
@dataclass
class PassStats:
    """Measurements of one pass."""

    label: str
    wall: float = 0.0
    stages: dict[str, float] = field(default_factory=dict)
    requests: int = 0
    bytes_received: int = 0
    server: dict[str, int] = field(default_factory=dict)
    extraction_calls: int = 0
    extracted_from_page: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    stored: int = 0
    thread_seconds: dict[str, float] = field(default_factory=dict)
    cpu: float = 0.0
    forced_full: int = 0  # stored feeds whose periodic unconditional fetch falls on this pass


@contextmanager
def timed_calls(totals: dict[str, float]) -> Iterator[None]:
    """Sum the time threads spend in `poll_feed` and `fetch_pages` inside `harvest_feed`."""
    lock = threading.Lock()
    originals: dict[str, Callable[..., Any]] = {
        "poll_feed": harvest_stage.poll_feed,
        "fetch_pages": harvest_stage.fetch_pages,
    }

    def wrap(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                with lock:
                    totals[name] = totals.get(name, 0.0) + time.perf_counter() - t

        return timed

    try:
        for name, fn in originals.items():
            setattr(harvest_stage, name, wrap(name, fn))
        yield
    finally:
        for name, fn in originals.items():
            setattr(harvest_stage, name, fn)


class StageClock:
    """A stage runner for `run_pass` that times each kind of stage and keeps its results."""

    def __init__(self) -> None:
        self.spans: dict[str, list[float]] = {}
        self.results: dict[str, list[Any]] = {}
        self._lock = threading.Lock()

    def __call__(self, stage: str, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Run the stage; remember when its kind first started and last ended, and its result."""
        start = time.perf_counter()
        result = fn(*args, **kwargs)
        end = time.perf_counter()
        kind = stage.split(" ", 1)[0]
        with self._lock:
            span = self.spans.setdefault(kind, [start, end])
            span[0], span[1] = min(span[0], start), max(span[1], end)
            self.results.setdefault(kind, []).append(result)
        return result

    def seconds(self, kind: str) -> float:
        """Wall time from the first start to the last end of the stages of `kind`."""
        start, end = self.spans.get(kind, [0.0, 0.0])
        return end - start


def measure_pass(label: str, cfg: MonitorConfig, counters: Any, *, threads: int) -> PassStats:
    """One pass (`run_pass`, feeds polled `threads` at a time), measured."""
    engine = get_engine(cfg.resolved_database_url)
    with counters.get_lock():
        for i in (FEED_REQUESTS, FEED_304, PAGE_REQUESTS, BYTES_SENT):
            counters[i] = 0
    st = PassStats(label)
    st.forced_full = forced_full_fetches(cfg, engine)
    clock = StageClock()
    cpu0 = _cpu()
    t0 = time.perf_counter()
    with timed_calls(st.thread_seconds), Fetcher(cfg.fetch) as fetcher:
        summary = run_pass(
            cfg,
            engine,
            now=utcnow(),
            force=True,
            runner=clock,
            fetcher=fetcher,
            poll_threads=threads,
        )
        st.requests, st.bytes_received = fetcher.requests, fetcher.bytes_received
    st.wall = time.perf_counter() - t0
    st.cpu = _cpu() - cpu0
    st.stages = {
        "prepare": clock.seconds("prepare"),
        "harvest": clock.seconds("poll"),
        "extract": clock.seconds("extract"),
        "process": clock.seconds("process"),
    }
    harvests: list[Harvest] = clock.results.get("poll", [])
    candidates: list[Candidate] = (clock.results.get("extract") or [[]])[0]
    st.extraction_calls = len(
        {e.job.url for h in harvests for e in h.items if e.job.html is not None}
    )
    st.extracted_from_page = sum(c.text.source == "page" for c in candidates)
    st.statuses = Counter(str(h.status) for h in harvests)
    st.stored = summary.new_articles + summary.updated_articles
    with counters.get_lock():
        st.server = {
            "feed_200": counters[FEED_REQUESTS],
            "feed_304": counters[FEED_304],
            "pages": counters[PAGE_REQUESTS],
            "bytes_sent": counters[BYTES_SENT],
        }
    failed = {
        h.feed: h.message for h in harvests if h.status in (PollStatus.FAILED, PollStatus.GONE)
    }
    for name, message in list(failed.items())[:5]:
        print(f"  [{label}] feed {name} failed: {message}", file=sys.stderr)
    return st


def forced_full_fetches(cfg: MonitorConfig, engine: Engine) -> int:
    """Stored feeds whose next poll ignores their validators (`force_full_fetch_every`,
    staggered per feed after its first poll): these answer 200, not 304, on a re-poll."""
    every = cfg.fetch.force_full_fetch_every
    with Session(engine) as s:
        feeds = repo_feeds.list_feeds(s, monitor=cfg.name)
    return sum(f.polls_since_full + 1 >= every for f in feeds if f.etag or f.last_modified)


def _cpu() -> float:
    """CPU seconds of this process and its finished children (the extraction workers)."""
    me, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


# --- report --------------------------------------------------------------------------------
def _mb(n: int) -> str:
    return f"{n / 1e6:,.2f} MB"


def table(passes: list[PassStats]) -> str:
    """The markdown table of the passes, one column each."""
    rows: list[tuple[str, Callable[[PassStats], str]]] = [
        ("wall time (s)", lambda p: f"**{p.wall:.2f}**"),
        ("· prepare: feeds, seeds (s)", lambda p: f"{p.stages['prepare']:.2f}"),
        ("· harvest: poll feeds + fetch pages (s)", lambda p: f"{p.stages['harvest']:.2f}"),
        ("· extract (s)", lambda p: f"{p.stages['extract']:.2f}"),
        ("· process (s)", lambda p: f"{p.stages['process']:.2f}"),
        ("CPU time, pipeline + extraction workers (s)", lambda p: f"{p.cpu:.2f}"),
        ("HTTP requests (Fetcher)", lambda p: f"{p.requests:,}"),
        ("bytes received (Fetcher, on the wire)", lambda p: _mb(p.bytes_received)),
        ("feed requests answered 200 (server)", lambda p: f"{p.server['feed_200']:,}"),
        ("feed requests answered 304 (server)", lambda p: f"{p.server['feed_304']:,}"),
        ("page requests (server)", lambda p: f"{p.server['pages']:,}"),
        ("extraction calls (ExtractJobs with HTML)", lambda p: f"{p.extraction_calls:,}"),
        ("texts from the page, not the feed summary", lambda p: f"{p.extracted_from_page:,}"),
        ("articles stored", lambda p: f"{p.stored:,}"),
        (
            "feeds ok / not modified / failed",
            lambda p: " / ".join(
                str(p.statuses.get(s, 0)) for s in ("ok", "not_modified", "failed")
            ),
        ),
    ]
    lines = ["| | " + " | ".join(p.label for p in passes) + " |"]
    lines.append("|---|" + "---:|" * len(passes))
    lines += [f"| {name} | " + " | ".join(fn(p) for p in passes) + " |" for name, fn in rows]
    return "\n".join(lines)


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def machine() -> str:
    """One line describing this machine."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{cpus} CPU(s) {model or platform.processor()}, Python {platform.python_version()}"


def config(tmp: Path, plan: Plan, servers: list[LocalHTTPServer]) -> MonitorConfig:
    """The benchmark monitor: every feed, a fresh SQLite database, loopback allowed."""
    return parse_config(
        {
            "name": "bench-fetch",
            "seeds": str(REPO / "seeds"),
            "data_dir": str(tmp / "data"),
            "database_url": f"sqlite:///{tmp / 'bench.db'}",
            "feeds": [
                {"name": f"feed-{i:03d}", "url": servers[f.host].url(f.path)}
                for i, f in enumerate(plan.feeds)
            ],
            "fetch": {"allow_networks": [f"{h}/32" for h in HOSTS]},
        }
    )


def main() -> int:
    """Serve the site, run the first poll and the re-polls, print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--feeds", type=int, default=200, help="feeds (default 200)")
    ap.add_argument("--items", type=int, default=50, help="entries per feed (default 50)")
    ap.add_argument("--threads", type=int, default=8, help="harvest threads (default 8)")
    ap.add_argument(
        "--cross-listed",
        type=int,
        default=0,
        metavar="N",
        help="N entries of each feed also listed in another feed of the same host (default 0)",
    )
    ap.add_argument("--quick", action="store_true", help="40 feeds x 20 entries")
    args = ap.parse_args()
    n_feeds, n_items = (40, 20) if args.quick else (args.feeds, args.items)

    t = time.perf_counter()
    plan = make_plan(n_feeds, n_items, args.cross_listed)
    counters = mp.get_context("fork").Array("q", N_COUNTERS)
    servers, sizes = build_site(plan, counters)
    build_s = time.perf_counter() - t
    # fork before any thread exists in this process; the child serves, this process measures
    server_proc = mp.get_context("fork").Process(
        target=_serve_forever, args=(servers,), name="bench-site", daemon=True
    )
    server_proc.start()
    for srv in servers:
        srv.httpd.socket.close()  # the child accepts; this process only connects

    listed = sum(len(f.stories) for f in plan.feeds)
    cross = f", {listed - sizes['pages']:,} entries cross-listed" if listed > sizes["pages"] else ""
    print(f"# bench_fetch: {n_feeds} feeds x {n_items} entries on {len(HOSTS)} hosts")
    print(f"machine: {machine()}; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"command: python -m scripts.bench_fetch {' '.join(sys.argv[1:])}".rstrip())
    print(
        f"site: {sizes['feeds']} feeds ({_mb(sizes['feed_bytes'])}), {sizes['pages']:,} pages "
        f"(mean {sizes['page_bytes'] / max(1, sizes['pages']) / 1e3:.1f} kB, "
        f"{sizes['page_gz_bytes'] / max(1, sizes['pages']) / 1e3:.1f} kB gzipped)"
        f"{cross}"
        f"; text: {plan.source}, {plan.entries_per_page} entries a page"
        f"{' (some reused: not enough text)' if plan.reused_entries else ''}; "
        f"built in {build_s:.1f} s"
    )
    print(f"harvest: {args.threads} threads, one Fetcher (per-host limit 2), pages gzipped")
    print(f"load average before: {_load()}")
    passes: list[PassStats] = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-fetch-") as tmp:
            cfg = config(Path(tmp), plan, servers)
            get_engine(cfg.resolved_database_url)  # migrate the fresh database (not timed)
            passes.append(measure_pass("first poll", cfg, counters, threads=args.threads))
            passes.append(measure_pass("re-poll, nothing new (304)", cfg, counters,
                                   threads=args.threads))  # fmt: skip
            counters[IGNORE_VALIDATORS] = 1  # what every 10th poll, or a server without, costs
            passes.append(measure_pass("re-poll, nothing new, full fetch (200)", cfg, counters,
                                   threads=args.threads))  # fmt: skip
    finally:
        server_proc.terminate()
        server_proc.join(5)
    print(f"load average after: {_load()}")
    first, again, full = passes

    print()
    print(table(passes))
    print()
    ts = first.thread_seconds
    print(
        "first poll, harvest thread-seconds: "
        f"poll_feed {ts.get('poll_feed', 0.0):.1f} s, "
        f"fetch_pages {ts.get('fetch_pages', 0.0):.1f} s "
        f"(summed over {args.threads} threads); per page: extract "
        f"{first.stages['extract'] / max(1, first.extraction_calls) * 1e3:.1f} ms, process "
        f"{first.stages['process'] / max(1, first.stored) * 1e3:.1f} ms"
    )
    if first.server["pages"] > sizes["pages"]:
        print(
            f"first poll: {first.server['pages']:,} page requests for {sizes['pages']:,} "
            f"distinct pages ({first.server['pages'] - sizes['pages']:,} wasted on "
            "cross-listed entries)"
        )
    ratio = again.wall / first.wall if first.wall else 0.0
    print(
        f"re-poll wall time: {again.wall:.2f} s = {ratio:.1%} of the first poll "
        f"(target <= {TARGET_RATIO:.0%}): {'met' if ratio <= TARGET_RATIO else 'MISSED'}; "
        f"full-fetch re-poll: {full.wall:.2f} s = {full.wall / first.wall:.1%}"
    )
    problems = []
    for p in (again, full):
        if p.extraction_calls:
            problems.append(f"{p.label}: {p.extraction_calls} extraction call(s)")
        if p.server["pages"]:
            problems.append(f"{p.label}: {p.server['pages']} page request(s)")
        if p.stored:
            problems.append(f"{p.label}: {p.stored} article(s) stored")
    expected_304 = n_feeds - again.forced_full
    if again.server["feed_304"] != expected_304 or again.server["feed_200"] != again.forced_full:
        problems.append(
            f"{again.label}: {again.server['feed_304']} 304s and {again.server['feed_200']} 200s "
            f"for {n_feeds} feeds ({again.forced_full} due a forced full fetch)"
        )
    if first.statuses.get("ok", 0) != n_feeds:
        problems.append(f"first poll: {n_feeds - first.statuses.get('ok', 0)} feed(s) not ok")
    for problem in problems:
        print(f"FAIL: {problem}")
    if not problems:
        print(
            "re-polls: no extraction call, no page request; every feed answered 304 but the "
            f"{again.forced_full} due their staggered forced full fetch (200): ok"
        )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
