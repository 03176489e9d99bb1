"""Loopback servers of the replay evaluation: the rss2023 corpus as live feeds, and a Slack sink.

`ReplayServer` serves, for a simulated clock that the replay moves forward (`server.clock`):

- `/feeds/<outlet>.xml` — RSS 2.0 with that outlet's latest entries published at or before the
  clock (at most `max_items`, none older than `window`), newest first; ETag and Last-Modified
  with 304 answers, as real feeds have.
- `/articles/<outlet>/<hex>.html` — an article page built from the entry's title and
  description in a news-site template (header, section nav, byline, related stories, footer:
  the boilerplate trafilatura has to strip); 404 before the entry is published.

`WebhookSink` is a Slack incoming-webhook stand-in: it answers `ok` and records every POST
(the JSON payload and the simulated time it arrived).
"""

from __future__ import annotations

import bisect
import gzip
import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from scripts.build_samples import description_paragraphs
from scripts.build_samples_render import BASE, OUTLETS, Item, OutletStyle, _dt, render_article

RELATED = 4  # related-story links on each page


@dataclass(frozen=True, slots=True)
class Entry:
    """One corpus entry as the replay serves it."""

    id: str
    outlet: str
    date: datetime
    title: str
    link: str
    description: str
    source_feed: str


@dataclass
class Outlet:
    """One outlet of the corpus: its entries sorted by date, and how its pages look."""

    slug: str
    name: str
    entries: list[Entry]
    dates: list[datetime] = field(default_factory=list)
    style: OutletStyle | None = None

    def __post_init__(self) -> None:
        self.dates = [e.date for e in self.entries]
        self.style = OUTLETS.get(self.slug) or OutletStyle(
            self.name, ("World", "Politics", "Business", "Opinion"), self.name,
            f"© 2023 {self.name}. All rights reserved.", self.slug.replace("-", ""),
        )  # fmt: skip

    def published_by(self, clock: datetime) -> int:
        """How many entries are published at or before `clock`."""
        return bisect.bisect_right(self.dates, clock)


class Corpus:
    """The rss2023 corpus (one `<outlet>.jsonl.gz` per outlet), indexed for the replay."""

    def __init__(self, folder: Path, outlets: set[str] | None = None) -> None:
        """Read every outlet file of `folder` (or only the `outlets` named)."""
        files = sorted(folder.glob("*.jsonl.gz"))
        if outlets is not None:
            unknown = outlets - {f.name.removesuffix(".jsonl.gz") for f in files}
            if unknown:
                raise FileNotFoundError(f"{folder}: no corpus file for outlet(s) {sorted(unknown)}")
            files = [f for f in files if f.name.removesuffix(".jsonl.gz") in outlets]
        if not files:
            raise FileNotFoundError(
                f"{folder}: no *.jsonl.gz corpus files here; set $NEWSMON_SHARED to the folder "
                "holding corpora/rss2023 (see scripts/shared_data.py)"
            )
        self.outlets: dict[str, Outlet] = {}
        self.by_id: dict[str, Entry] = {}
        for path in files:
            slug = path.name.removesuffix(".jsonl.gz")
            entries = []
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                for n, line in enumerate(fh, 1):
                    try:
                        row = json.loads(line)
                        entry = Entry(
                            id=row["id"], outlet=row["outlet"], date=_dt(row["date"]),
                            title=row["title"], link=row["link"],
                            description=row.get("description") or "", source_feed=row["feed"],
                        )  # fmt: skip
                    except (ValueError, KeyError) as exc:
                        raise ValueError(f"{path}, line {n}: not a corpus entry ({exc})") from None
                    entries.append(entry)
                    self.by_id[entry.id] = entry
            entries.sort(key=lambda e: (e.date, e.link))
            self.outlets[slug] = Outlet(slug, entries[0].outlet if entries else slug, entries)

    def entry_for_url(self, url: str) -> Entry | None:
        """The corpus entry a replay article URL (`.../articles/<outlet>/<hex>.html`) serves."""
        parts = urlsplit(url).path.strip("/").split("/")
        if len(parts) != 3 or parts[0] != "articles" or not parts[2].endswith(".html"):
            return None
        return self.by_id.get(f"{parts[1]}:{parts[2].removesuffix('.html')}")


def article_path(entry: Entry) -> str:
    """Path of an entry's article page on the replay server."""
    slug, suffix = entry.id.split(":", 1)
    return f"/articles/{slug}/{suffix}.html"


def _item(entry: Entry) -> Item:
    return Item(
        id=entry.id,
        date=entry.date.strftime("%Y-%m-%dT%H:%M:%SZ"),
        title=entry.title,
        description=entry.description,
        paragraphs=description_paragraphs(entry.description),
        source_feed=entry.source_feed,
        source_outlet=entry.outlet,
        nk=False,
    )


class ReplayServer(ThreadingHTTPServer):
    """Serves the corpus as it stood at `self.clock` (see the module docstring)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        corpus: Corpus,
        clock: datetime,
        *,
        max_items: int = 300,
        window: timedelta = timedelta(hours=48),
        port: int = 0,
    ) -> None:
        self.corpus = corpus
        self.clock = clock
        self.max_items = max_items
        self.window = window
        self.requests = 0
        self.not_modified = 0
        self.broken = 0
        self._lock = threading.Lock()
        super().__init__(("127.0.0.1", port), _ReplayHandler)

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:<port>`."""
        return f"http://127.0.0.1:{self.server_address[1]}"

    def feed_entries(self, slug: str) -> list[Entry]:
        """The entries the feed of `slug` shows now, newest first."""
        outlet = self.corpus.outlets[slug]
        end = outlet.published_by(self.clock)
        start = max(
            0, end - self.max_items, bisect.bisect_right(outlet.dates, self.clock - self.window)
        )
        return outlet.entries[start:end][::-1]

    def render_feed(self, slug: str) -> tuple[bytes, datetime | None]:
        """The RSS document of `slug` now and the publication time of its newest entry."""
        outlet = self.corpus.outlets[slug]
        entries = self.feed_entries(slug)
        newest = entries[0].date if entries else None
        out = [
            '<?xml version="1.0" encoding="UTF-8"?>',
            '<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">',
            "<channel>",
            f"<title>{escape(outlet.name)}</title>",
            f"<link>{self.base_url}/</link>",
            f'<atom:link href="{self.base_url}/feeds/{slug}.xml" rel="self" '
            'type="application/rss+xml"/>',
            f"<description>{escape(outlet.name)} (rss2023 replay)</description>",
            "<language>en</language>",
        ]
        if newest is not None:
            out.append(f"<lastBuildDate>{format_datetime(newest, usegmt=True)}</lastBuildDate>")
        for e in entries:
            out += [
                "<item>",
                f"<title>{escape(e.title)}</title>",
                f"<link>{self.base_url}{article_path(e)}</link>",
                f'<guid isPermaLink="false">{escape(e.id)}</guid>',
                f"<pubDate>{format_datetime(e.date, usegmt=True)}</pubDate>",
                f"<description>{escape(e.description)}</description>",
                "</item>",
            ]
        out += ["</channel>", "</rss>", ""]
        return "\n".join(out).encode("utf-8"), newest

    def render_page(self, slug: str, suffix: str) -> bytes | None:
        """The article page of entry `<slug>:<suffix>`, or None if unknown or not yet out."""
        entry = self.corpus.by_id.get(f"{slug}:{suffix}")
        if entry is None or entry.date > self.clock:
            return None
        outlet = self.corpus.outlets[slug]
        at = bisect.bisect_left(outlet.dates, entry.date)
        related = [_item(e) for e in outlet.entries[max(0, at - RELATED) : at] if e is not entry]
        assert outlet.style is not None
        page = render_article(slug, outlet.style, _item(entry), related)
        return page.replace(BASE, self.base_url).encode("utf-8")

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Count a request that broke off (e.g. the client gave up on a slow page) quietly."""
        with self._lock:
            self.broken += 1

    def count(self, *, not_modified: bool) -> None:
        """Count one request (and whether it was answered 304)."""
        with self._lock:
            self.requests += 1
            self.not_modified += int(not_modified)


class _ReplayHandler(BaseHTTPRequestHandler):
    server: ReplayServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        parts = urlsplit(self.path).path.strip("/").split("/")
        if len(parts) == 2 and parts[0] == "feeds" and parts[1].endswith(".xml"):
            slug = parts[1].removesuffix(".xml")
            if slug in self.server.corpus.outlets:
                self._feed(slug)
                return
        if len(parts) == 3 and parts[0] == "articles" and parts[2].endswith(".html"):
            page = self.server.render_page(parts[1], parts[2].removesuffix(".html"))
            if page is not None:
                self._send(HTTPStatus.OK, page, {"Content-Type": "text/html; charset=utf-8"})
                return
        self._send(HTTPStatus.NOT_FOUND, b"not found\n", {"Content-Type": "text/plain"})

    def _feed(self, slug: str) -> None:
        body, newest = self.server.render_feed(slug)
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        headers = {"ETag": etag, "Content-Type": "application/rss+xml; charset=utf-8"}
        if newest is not None:
            headers["Last-Modified"] = format_datetime(newest, usegmt=True)
        if _not_modified(self.headers, etag, newest):
            self.server.count(not_modified=True)
            self._send(HTTPStatus.NOT_MODIFIED, b"", headers)
            return
        self._send(HTTPStatus.OK, body, headers)

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        if status != HTTPStatus.NOT_MODIFIED:
            self.server.count(not_modified=False)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _not_modified(headers: Any, etag: str, newest: datetime | None) -> bool:
    """RFC 9110 §13.2.2: If-None-Match decides when present, else If-Modified-Since."""
    if_none_match = headers.get("If-None-Match")
    if if_none_match is not None:
        return any(t.strip().removeprefix("W/") == etag for t in if_none_match.split(","))
    since = headers.get("If-Modified-Since")
    if since and newest is not None:
        try:
            return newest <= parsedate_to_datetime(since)
        except (TypeError, ValueError, IndexError):
            return False
    return False


@dataclass(frozen=True, slots=True)
class Post:
    """One message the webhook sink received."""

    path: str
    payload: dict[str, Any]
    received_at: datetime


class WebhookSink(ThreadingHTTPServer):
    """A Slack incoming webhook on loopback: answers 200 `ok`, records every POST."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.clock = clock
        self.posts: list[Post] = []
        self._lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _SinkHandler)

    @property
    def url(self) -> str:
        """The webhook URL to configure (`NEWSMON_SLACK_WEBHOOK_URL`)."""
        return f"http://127.0.0.1:{self.server_address[1]}/services/replay"

    def record(self, path: str, payload: dict[str, Any]) -> None:
        """Keep one received message."""
        with self._lock:
            self.posts.append(Post(path, payload, self.clock()))


class _SinkHandler(BaseHTTPRequestHandler):
    server: WebhookSink
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            payload = json.loads(body)
            ok = isinstance(payload, dict)
        except ValueError:
            ok = False
        if ok:
            self.server.record(self.path, payload)
        reply = b"ok" if ok else b"invalid_payload"
        self.send_response(HTTPStatus.OK if ok else HTTPStatus.BAD_REQUEST)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)


def serve_in_thread(server: ThreadingHTTPServer) -> threading.Thread:
    """Serve `server` in a daemon thread."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return thread
