"""A whole pass with one faulty feed (or page) beside a healthy one: the pass completes, the
healthy feed is processed normally, the fault is recorded for its feed (or article), and the
message names the feed and the cause. One test per fault, against real local servers."""

from __future__ import annotations

import gzip
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlmodel import Session

from monitors.clock import utcnow
from monitors.config import MonitorConfig, parse_config
from pipeline.prepare import prepare
from pipeline.run import run_pass
from pipeline.summary import PassSummary
from storage import repo_feeds
from storage import repository as repo
from storage.db import get_engine
from storage.models import Article, Feed
from tests.support.faults import unaccepting_port
from tests.support.httpserver import LocalHTTPServer, Request, Response
from tests.support.newsfixture import Entry, rss, serve_feed, serve_sample

REPO = Path(__file__).resolve().parents[2]
RSS = "application/rss+xml; charset=utf-8"
HOST = "127.0.0.2"  # the site's own address; 127.0.0.1 stays "internal" for the SSRF guard


@dataclass
class Pass:
    cfg: MonitorConfig
    summary: PassSummary
    site: LocalHTTPServer

    def feed(self, name: str) -> Feed:
        with Session(get_engine(self.cfg.resolved_database_url)) as s:
            return repo_feeds.get_feed(s, monitor=self.cfg.name, name=name)

    def articles(self) -> dict[str, Article]:
        with Session(get_engine(self.cfg.resolved_database_url)) as s:
            return {a.url: a for a in repo.list_articles(s, monitor=self.cfg.name)}


@pytest.fixture
def site() -> Iterator[LocalHTTPServer]:
    with LocalHTTPServer(host=HOST) as server:
        yield server


def pass_with(tmp_path: Path, site: LocalHTTPServer, bad_url: str) -> Pass:
    good = serve_sample(site, "guardian", "686b5362458d")
    feeds = {"good": serve_feed(site, "/good.xml", [good]), "bad": bad_url}
    cfg = parse_config(
        {
            "name": "faults",
            "seeds": str(REPO / "seeds"),
            "data_dir": str(tmp_path / "data"),
            "database_url": f"sqlite:///{tmp_path / 'n.db'}",
            "feeds": [{"name": n, "url": u} for n, u in feeds.items()],
            "fetch": {
                "allow_networks": [f"{HOST}/32"],
                "connect_timeout": 1,
                "read_timeout": 1.5,
                "total_timeout": 3,
                "max_feed_bytes": 2_000_000,
                "max_page_bytes": 2_000_000,
            },
        }
    )
    summary = run_pass(cfg, get_engine(cfg.resolved_database_url), now=utcnow(), force=True)
    p = Pass(cfg, summary, site)
    assert p.summary.feeds_polled == 2
    assert site.url(good.path) in p.articles(), "the healthy feed must be processed normally"
    return p


def assert_feed_failed(p: Pass, *causes: str, status: str = "failing") -> None:
    message = p.summary.feeds_failed["bad"]
    assert "'bad'" in message, message
    for cause in causes:
        assert cause.lower() in message.lower(), message
    row = p.feed("bad")
    assert row.status == status
    assert row.last_error or row.disabled_reason


# --- feed faults ---------------------------------------------------------------------------
def test_connect_timeout(tmp_path: Path, site: LocalHTTPServer) -> None:
    with unaccepting_port(HOST) as port:
        p = pass_with(tmp_path, site, f"http://{HOST}:{port}/feed.xml")
    assert_feed_failed(p, "timed out")


def test_server_dripping_one_byte_a_second(tmp_path: Path, site: LocalHTTPServer) -> None:
    def drip(req: Request) -> None:
        w = req.handler.wfile
        w.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: 500\r\n\r\n"
        )
        for _ in range(20):
            w.write(b"<")
            w.flush()
            time.sleep(1)

    site.route("/bad.xml", drip)
    p = pass_with(tmp_path, site, site.url("/bad.xml"))
    assert_feed_failed(p, "deadline")


def test_500_then_recovery(tmp_path: Path, site: LocalHTTPServer) -> None:
    site.route("/bad.xml", Response(500, b"boom"))
    p = pass_with(tmp_path, site, site.url("/bad.xml"))
    assert_feed_failed(p, "500")
    entry = serve_sample(site, "bbc-news", "5cd319e0c7aa")
    serve_feed(site, "/bad.xml", [entry])
    again = pass_with(tmp_path, site, site.url("/bad.xml"))
    assert "bad" not in again.summary.feeds_failed
    assert again.feed("bad").status == "ok" and again.feed("bad").consecutive_failures == 0
    assert site.url(entry.path) in again.articles()


def test_429_with_retry_after(tmp_path: Path, site: LocalHTTPServer) -> None:
    site.route("/bad.xml", Response(429, b"slow down", {"Retry-After": "7200"}))
    p = pass_with(tmp_path, site, site.url("/bad.xml"))
    assert_feed_failed(p, "429")
    row = p.feed("bad")
    assert row.next_due_at is not None
    assert (row.next_due_at - utcnow()).total_seconds() > 7000


@pytest.mark.parametrize(
    ("name", "body", "content_type", "cause"),
    [
        ("malformed", b"<rss><channel><item><title>x</title></rss", RSS, "not a readable"),
        (
            "billion-laughs",
            b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>'
            b"<rss><channel><title>&lol2;</title></channel></rss>",
            RSS,
            "entit",
        ),
        (
            "external-entity",
            b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
            b"<rss><channel><title>&xxe;</title></channel></rss>",
            RSS,
            "entit",
        ),
        (
            "html",
            b"<!DOCTYPE html><html><head><title>Home</title></head><body>hi</body></html>",
            "text/html; charset=utf-8",
            "HTML",
        ),
    ],
)
def test_unusable_feed_body(
    tmp_path: Path, site: LocalHTTPServer, name: str, body: bytes, content_type: str, cause: str
) -> None:
    site.route("/bad.xml", Response(200, body, content_type=content_type))
    p = pass_with(tmp_path, site, site.url("/bad.xml"))
    assert_feed_failed(p, cause)


def test_empty_feed_is_a_success_with_nothing_new(tmp_path: Path, site: LocalHTTPServer) -> None:
    site.route("/bad.xml", Response(200, rss("/bad.xml", [], site.base_url), content_type=RSS))
    p = pass_with(tmp_path, site, site.url("/bad.xml"))
    assert "bad" not in p.summary.feeds_failed
    assert p.feed("bad").status == "ok"


def test_non_utf8_feed_with_a_wrong_declared_charset(tmp_path: Path, site: LocalHTTPServer) -> None:
    entry = serve_sample(site, "bbc-news", "5cd319e0c7aa")
    entry = Entry(
        entry.guid,
        "Путин и Ким встретились на космодроме Восточный",
        entry.path,
        entry.pubdate,
        "Саммит России и КНДР",
    )
    body = rss("/bad.xml", [entry], site.base_url).decode("utf-8").encode("windows-1251")
    site.route("/bad.xml", Response(200, body, content_type="application/rss+xml; charset=utf-8"))
    p = pass_with(tmp_path, site, site.url("/bad.xml"))
    assert "bad" not in p.summary.feeds_failed
    stored = p.articles()[site.url(entry.path)]
    assert "Восточный" in stored.summary or "Восточный" in stored.title


def test_gzip_bomb_feed(tmp_path: Path, site: LocalHTTPServer) -> None:
    bomb = gzip.compress(b"\0" * 200_000_000, compresslevel=9)
    site.route(
        "/bad.xml",
        Response(200, bomb, {"Content-Encoding": "gzip", "Connection": "close"}, content_type=RSS),
    )
    p = pass_with(tmp_path, site, site.url("/bad.xml"))
    assert_feed_failed(p, "cap of 2,000,000 bytes")


def test_redirect_loop(tmp_path: Path, site: LocalHTTPServer) -> None:
    site.route("/bad.xml", Response(302, b"", {"Location": "/loop.xml"}))
    site.route("/loop.xml", Response(302, b"", {"Location": "/bad.xml"}))
    p = pass_with(tmp_path, site, site.url("/bad.xml"))
    assert_feed_failed(p, "redirect")


def test_301_moves_the_feed(tmp_path: Path, site: LocalHTTPServer) -> None:
    entry = serve_sample(site, "bbc-news", "5cd319e0c7aa")
    serve_feed(site, "/new.xml", [entry])
    site.route("/bad.xml", Response(301, b"", {"Location": "/new.xml"}))
    p = pass_with(tmp_path, site, site.url("/bad.xml"))
    assert "bad" not in p.summary.feeds_failed
    assert p.feed("bad").current_url == site.url("/new.xml")
    assert site.url(entry.path) in p.articles()


def test_410_disables_the_feed(tmp_path: Path, site: LocalHTTPServer) -> None:
    site.route("/bad.xml", Response(410, b"gone"))
    p = pass_with(tmp_path, site, site.url("/bad.xml"))
    assert_feed_failed(p, "410", status="disabled")
    assert "disabled" in (p.feed("bad").disabled_reason or "")
    # a disabled feed is not polled again, and the pass still completes
    again_prepared = prepare(
        p.cfg, get_engine(p.cfg.resolved_database_url), now=utcnow(), force=True
    )
    assert again_prepared.due_feeds == ["good"]
    assert again_prepared.skipped_feeds["bad"].startswith("disabled: ")


# --- page faults: the entry is stored from its feed summary, with the reason ----------------
PageSetup = Callable[[LocalHTTPServer, str], None]


def _huge(site: LocalHTTPServer, path: str) -> None:
    site.route(path, Response(200, b"<p>" + b"x" * 50_000_000 + b"</p>"))


def _to_loopback(site: LocalHTTPServer, path: str) -> None:
    site.route(path, Response(302, b"", {"Location": "http://127.0.0.1:9/admin"}))


def _to_metadata(site: LocalHTTPServer, path: str) -> None:
    site.route(path, Response(302, b"", {"Location": "http://169.254.169.254/latest/meta-data/"}))


@pytest.mark.parametrize(
    ("setup", "cause"),
    [(_huge, "over the cap"), (_to_loopback, "127.0.0.1"), (_to_metadata, "169.254.169.254")],
    ids=["50MB-page", "redirect-to-127.0.0.1", "redirect-to-169.254.169.254"],
)
def test_page_fault_falls_back_to_the_feed_summary(
    tmp_path: Path, site: LocalHTTPServer, setup: PageSetup, cause: str
) -> None:
    entry = serve_sample(site, "bbc-news", "5cd319e0c7aa")
    setup(site, entry.path)
    p = pass_with(tmp_path, site, serve_feed(site, "/bad.xml", [entry]))
    article = p.articles()[site.url(entry.path)]
    assert article.text_source == "summary"
    note = article.extraction_note or ""
    assert note.startswith("page fetch failed: ") and cause.lower() in note.lower(), note
