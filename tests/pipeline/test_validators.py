"""A feed's ETag/Last-Modified advance only once the entries they cover are stored.

A pass that dies between polling and processing must leave the feed's validators where they
were, so the next pass gets the feed again (200, not 304) and processes what was lost.
"""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session

from monitors.clock import utcnow
from monitors.config import MonitorConfig, parse_config
from monitors.httpclient import Fetcher
from pipeline.extract import extract_batch
from pipeline.harvest import Harvest, harvest_feed, save_validators
from pipeline.prepare import prepare
from pipeline.process import process_batch
from storage import repo_feeds
from storage.db import get_engine
from tests.support.httpserver import LocalHTTPServer, Request, Response
from tests.support.newsfixture import serve_feed, serve_sample

REPO = Path(__file__).resolve().parents[2]
ETAG = '"feed-v1"'


def config(tmp_path: Path, db_url: str, url: str) -> MonitorConfig:
    return parse_config(
        {
            "name": "validators",
            "seeds": str(REPO / "seeds"),
            "data_dir": str(tmp_path / "data"),
            "database_url": db_url,
            "feeds": [{"name": "g", "url": url}],
            "fetch": {"allow_networks": ["127.0.0.1/32"]},
        }
    )


def conditional_feed(site: LocalHTTPServer) -> str:
    """A feed with one entry that answers 304 to its ETag."""
    url = serve_feed(site, "/g.xml", [serve_sample(site, "guardian", "686b5362458d")])
    plain = site.routes["/g.xml"]
    assert isinstance(plain, Response)
    tagged = Response(200, plain.body, {"ETag": ETAG}, plain.content_type)

    def handler(req: Request) -> Response:
        sent = {k.lower(): v for k, v in req.headers.items()}.get("if-none-match")
        return Response(304, b"", {"ETag": ETAG}) if sent == ETAG else tagged

    site.route("/g.xml", handler)
    return url


def poll(cfg: MonitorConfig) -> Harvest:
    engine = get_engine(cfg.resolved_database_url)
    now = utcnow()
    prepare(cfg, engine, now=now, force=True)
    with Fetcher(cfg.fetch) as fetcher:
        return harvest_feed(cfg, engine, fetcher, feed_name="g", now=now)


def stored_etag(cfg: MonitorConfig) -> str | None:
    with Session(get_engine(cfg.resolved_database_url)) as s:
        return repo_feeds.get_feed(s, monitor=cfg.name, name="g").etag


def test_validators_wait_for_the_entries_they_cover(tmp_path: Path, db_url: str) -> None:
    with LocalHTTPServer() as site:
        cfg = config(tmp_path, db_url, conditional_feed(site))
        engine = get_engine(db_url)

        first = poll(cfg)  # ... and the pass dies here, before processing
        assert first.status == "ok" and first.new_count == 1
        assert first.validators == (ETAG, None)
        assert stored_etag(cfg) is None  # not saved: the entry is not stored yet

        again = poll(cfg)  # the next pass gets the feed again, entry still new
        assert again.status == "ok" and again.new_count == 1
        outcomes = process_batch(cfg, engine, extract_batch([again]), run_id=None, now=utcnow())
        assert len(outcomes) == 1
        assert save_validators(cfg, engine, [again]) == 1
        assert stored_etag(cfg) == ETAG

        third = poll(cfg)  # stored and saved: now the feed may answer 304
        assert third.status == "not_modified" and third.validators is None
