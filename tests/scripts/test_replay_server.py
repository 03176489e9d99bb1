"""The replay's loopback servers: feeds that follow the simulated clock, pages, the Slack sink."""

from __future__ import annotations

import gzip
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest

from scripts.replay_server import Corpus, ReplayServer, WebhookSink, serve_in_thread

ENTRIES = [
    ("2023-08-23T08:00:00Z", "General dismissed", "<p>Surovikin was fired.</p>"),
    ("2023-08-23T17:30:00Z", "Plane crashes in Tver", "<p>A jet fell.</p><p>Ten dead.</p>"),
    ("2023-08-24T09:00:00Z", "Putin offers condolences", "<p>Putin spoke.</p>"),
]  # fmt: skip


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ReplayServer]:
    with gzip.open(tmp_path / "wire.jsonl.gz", "wt", encoding="utf-8") as fh:
        for n, (when, title, desc) in enumerate(ENTRIES):
            row = {"id": f"wire:{n:012x}", "feed": "https://wire.example/rss", "outlet": "Wire",
                   "date": when, "title": title, "link": f"https://wire.example/{n}",
                   "description": desc}  # fmt: skip
            fh.write(json.dumps(row) + "\n")
    srv = ReplayServer(Corpus(tmp_path), datetime(2023, 8, 23, 12, tzinfo=UTC))
    serve_in_thread(srv)
    yield srv
    srv.shutdown()
    srv.server_close()


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def test_feed_shows_what_was_published_by_the_clock_and_answers_304(server: ReplayServer) -> None:
    feed = f"{server.base_url}/feeds/wire.xml"
    status, headers, body = get(feed)
    parsed = feedparser.parse(body)
    assert status == 200
    assert [e.title for e in parsed.entries] == ["General dismissed"]
    assert get(feed, {"If-None-Match": headers["ETag"]})[0] == 304
    assert get(feed, {"If-Modified-Since": headers["Last-Modified"]})[0] == 304

    server.clock = datetime(2023, 8, 24, 12, tzinfo=UTC)
    status, _, body = get(feed, {"If-None-Match": headers["ETag"]})
    assert status == 200
    titles = [e.title for e in feedparser.parse(body).entries]
    assert titles == [
        "Putin offers condolences",
        "Plane crashes in Tver",
        "General dismissed",
    ]
    assert server.not_modified == 2


def test_article_page_wraps_the_entry_in_site_boilerplate_and_is_404_before_it_is_out(
    server: ReplayServer,
) -> None:
    link = feedparser.parse(get(f"{server.base_url}/feeds/wire.xml")[2]).entries[0].link
    status, _, page = get(link)
    html = page.decode("utf-8")
    assert status == 200 and "<p>Surovikin was fired.</p>" in html
    assert "<nav" in html and "<footer" in html
    assert server.corpus.entry_for_url(link) == server.corpus.by_id["wire:000000000000"]
    assert get(f"{server.base_url}/articles/wire/000000000002.html")[0] == 404


def test_webhook_sink_records_each_post_with_the_simulated_time() -> None:
    when = datetime(2023, 8, 24, tzinfo=UTC)
    sink = WebhookSink(lambda: when)
    serve_in_thread(sink)
    try:
        req = urllib.request.Request(sink.url, data=b'{"text": "hi"}', method="POST")
        with urllib.request.urlopen(req, timeout=10) as r:
            assert (r.status, r.read()) == (200, b"ok")
    finally:
        sink.shutdown()
        sink.server_close()
    assert [(p.payload, p.received_at) for p in sink.posts] == [({"text": "hi"}, when)]
