"""The pass's stages as plain functions (no Prefect): identity, versions, overlapping runs."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlmodel import Session, select

from monitors.clock import utcnow
from monitors.config import MonitorConfig, parse_config
from monitors.httpclient import Fetcher
from pipeline.extract import Candidate, extract_batch
from pipeline.harvest import harvest_feed
from pipeline.health import SILENCE_FACTOR, SILENCE_MIN, check_feed_health
from pipeline.prepare import prepare
from pipeline.process import ArticleOutcome, process_batch
from storage import repo_alerts, repo_feeds
from storage import repository as repo
from storage.db import get_engine
from storage.models import ArticleSource, ArticleVersion
from tests.support.httpserver import LocalHTTPServer
from tests.support.newsfixture import Entry, serve_feed, serve_sample

REPO = Path(__file__).resolve().parents[2]


def config(tmp_path: Path, db_url: str, feeds: dict[str, str]) -> MonitorConfig:
    return parse_config(
        {
            "name": "pipe",
            "seeds": str(REPO / "seeds"),
            "data_dir": str(tmp_path / "data"),
            "database_url": db_url,
            "feeds": [{"name": n, "url": u} for n, u in feeds.items()],
            "fetch": {"allow_networks": ["127.0.0.1/32"]},
        }
    )


def harvest(cfg: MonitorConfig) -> list[Candidate]:
    engine = get_engine(cfg.resolved_database_url)
    now = utcnow()
    prepared = prepare(cfg, engine, now=now, force=True)
    with Fetcher(cfg.fetch) as fetcher:
        hs = [harvest_feed(cfg, engine, fetcher, feed_name=n, now=now) for n in prepared.due_feeds]
    return extract_batch(hs)


def test_overlapping_runs_store_one_article_and_one_alert(tmp_path: Path, db_url: str) -> None:
    with LocalHTTPServer() as site:
        arrives = serve_sample(site, "guardian", "686b5362458d")
        cfg = config(tmp_path, db_url, {"g": serve_feed(site, "/g.xml", [arrives])})
        cands = harvest(cfg)
    engine = get_engine(db_url)
    results: list[list[ArticleOutcome]] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        barrier.wait()
        results.append(process_batch(cfg, engine, cands, run_id=None, now=utcnow()))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 2
    with Session(engine) as s:
        assert len(repo.list_articles(s, monitor="pipe")) == 1
        alerts = repo_alerts.list_alerts(s, monitor="pipe")
        devs = repo.list_developments(s, monitor="pipe", status="new")
    assert [(a.channel, a.kind) for a in alerts] == [("outbox", "new_development")]
    assert len(devs) == 1
    assert sorted(o[0].new_development for o in results) == [False, True]


def test_same_article_through_two_feeds_is_stored_once_with_both_sources(
    tmp_path: Path, sqlite_url: str
) -> None:
    with LocalHTTPServer() as site:
        arrives = serve_sample(site, "guardian", "686b5362458d")
        feeds = {
            "a": serve_feed(site, "/a.xml", [arrives]),
            "b": serve_feed(site, "/b.xml", [arrives]),
        }
        cfg = config(tmp_path, sqlite_url, feeds)
        cands = harvest(cfg)
        engine = get_engine(sqlite_url)
        outcomes = process_batch(cfg, engine, cands, run_id=None, now=utcnow())
    assert [o.note for o in outcomes].count("already stored") == 1
    with Session(engine) as s:
        (article,) = repo.list_articles(s, monitor="pipe")
        sources = s.exec(select(ArticleSource).where(ArticleSource.article_id == article.id)).all()
    assert len(sources) == 2


def test_changed_entry_becomes_a_new_version_not_a_new_article(
    tmp_path: Path, sqlite_url: str
) -> None:
    with LocalHTTPServer() as site:
        arrives = serve_sample(site, "guardian", "686b5362458d")
        url = serve_feed(site, "/g.xml", [arrives])
        cfg = config(tmp_path, sqlite_url, {"g": url})
        engine = get_engine(sqlite_url)
        process_batch(cfg, engine, harvest(cfg), run_id=None, now=utcnow())
        changed = Entry(
            arrives.guid,
            arrives.title + " – updated",
            arrives.path,
            arrives.pubdate,
            arrives.description + "&lt;p&gt;Update: the talks began.&lt;/p&gt;",
        )
        serve_feed(site, "/g.xml", [changed])
        out = process_batch(cfg, engine, harvest(cfg), run_id=None, now=utcnow())
    assert [o.note for o in out] == ["changed: stored as version 2"]
    with Session(engine) as s:
        (article,) = repo.list_articles(s, monitor="pipe")
        versions = s.exec(select(ArticleVersion)).all()
        alerts = repo_alerts.list_alerts(s, monitor="pipe")
    assert article.version == 2 and "Update: the talks began." in article.summary
    assert [(v.version, v.title) for v in versions] == [(1, arrives.title)]
    assert len(alerts) == 1  # a changed article does not alert again


def test_failing_feed_raises_one_health_alert_and_one_recovery_notice(
    tmp_path: Path, sqlite_url: str
) -> None:
    from tests.support.httpserver import Response

    with LocalHTTPServer() as site:
        site.route("/f.xml", Response(503, b"down"))
        cfg = config(tmp_path, sqlite_url, {"f": site.url("/f.xml")})
        engine = get_engine(sqlite_url)
        for _ in range(4):
            harvest(cfg)
            changes = check_feed_health(cfg, engine, run_id=None, now=utcnow())
        arrives = serve_sample(site, "guardian", "686b5362458d")
        serve_feed(site, "/f.xml", [arrives])
        harvest(cfg)
        recovered = check_feed_health(cfg, engine, run_id=None, now=utcnow())
    assert changes == []  # the alert was raised once, on the third failure, not again
    assert recovered == ["Feed f recovered: " + recovered[0].split(": ", 1)[1]]
    with Session(engine) as s:
        alerts = repo_alerts.list_alerts(s, monitor="pipe")
    assert [(a.kind, a.subject.split("] ")[1]) for a in alerts] == [
        ("feed_health", "Feed problem: Feed f failed 3 polls in a row"),
        ("feed_recovered", "Feed recovered: Feed f recovered"),
    ]
    health = alerts[0].payload or {}
    assert "503" in health["summary"] and "/f.xml" in health["summary"]


def test_silent_feed_is_flagged_after_ten_typical_gaps(tmp_path: Path, sqlite_url: str) -> None:
    from datetime import timedelta

    with LocalHTTPServer() as site:
        entries = [
            serve_sample(site, "guardian", sid)
            for sid in (
                "686b5362458d",
                "0952f64a7765",
                "8506a2e848a0",
                "01ba64d516b9",
                "0b6b261ea982",
                "0c49690f5c9c",
            )
        ]
        cfg = config(tmp_path, sqlite_url, {"g": serve_feed(site, "/g.xml", entries)})
        harvest(cfg)
    engine = get_engine(sqlite_url)
    with Session(engine) as s:
        feed = repo_feeds.get_feed(s, monitor="pipe", name="g")
    assert feed.typical_gap_seconds is not None and feed.typical_gap_seconds > 0
    soon = utcnow() + timedelta(hours=1)
    assert check_feed_health(cfg, engine, run_id=None, now=soon) == []
    later = utcnow() + SILENCE_MIN + timedelta(seconds=SILENCE_FACTOR * feed.typical_gap_seconds)
    (change,) = check_feed_health(cfg, engine, run_id=None, now=later)
    assert change.startswith("Feed g has gone silent: no new item since ")
    with Session(engine) as s:
        assert repo_feeds.get_feed(s, monitor="pipe", name="g").status == "silent"


def test_a_poll_where_every_entry_is_new_is_recorded_as_a_possible_gap(
    tmp_path: Path, sqlite_url: str
) -> None:
    with LocalHTTPServer() as site:
        first = [serve_sample(site, "guardian", s) for s in ("686b5362458d", "0952f64a7765")]
        url = serve_feed(site, "/g.xml", first)
        cfg = config(tmp_path, sqlite_url, {"g": url})
        engine = get_engine(sqlite_url)
        now = utcnow()
        prepare(cfg, engine, now=now, force=True)
        with Fetcher(cfg.fetch) as fetcher:
            h1 = harvest_feed(cfg, engine, fetcher, feed_name="g", now=now)
            process_batch(cfg, engine, extract_batch([h1]), run_id=None, now=now)
            # the next poll shows only entries never seen: older ones fell out of the window
            later = [serve_sample(site, "guardian", s) for s in ("01ba64d516b9", "0b6b261ea982")]
            serve_feed(site, "/g.xml", later)
            h2 = harvest_feed(cfg, engine, fetcher, feed_name="g", now=now)
    assert (h1.possible_gap, h2.possible_gap) == (False, True)
    with Session(engine) as s:
        assert repo_feeds.get_feed(s, monitor="pipe", name="g").possible_gaps == 1


def test_an_entry_in_two_feeds_is_downloaded_once_per_run(tmp_path: Path, sqlite_url: str) -> None:
    with LocalHTTPServer() as site:
        arrives = serve_sample(site, "guardian", "686b5362458d")
        feeds = {
            "a": serve_feed(site, "/a.xml", [arrives]),
            "b": serve_feed(site, "/b.xml", [arrives]),
        }
        cands = harvest(config(tmp_path, sqlite_url, feeds))
        page_requests = len(site.requests_to(arrives.path))
    assert page_requests == 1
    assert [c.text.source for c in cands] == ["page", "page"]


def test_a_later_run_adds_follow_ups_to_the_development_without_alerting_again(
    tmp_path: Path, sqlite_url: str
) -> None:
    with LocalHTTPServer() as site:
        first = serve_sample(site, "bbc-news", "fbc2c623aa17")  # Kim reportedly heading to Russia
        url = serve_feed(site, "/g.xml", [first])
        cfg = config(tmp_path, sqlite_url, {"g": url})
        engine = get_engine(sqlite_url)
        out1 = process_batch(cfg, engine, harvest(cfg), run_id=None, now=utcnow())
        follow = serve_sample(site, "guardian", "0c49690f5c9c")  # expected to hold talks, next day
        serve_feed(site, "/g.xml", [follow, first])
        out2 = process_batch(cfg, engine, harvest(cfg), run_id=None, now=utcnow())
    assert [o.new_development for o in out1] == [True]
    (later,) = [o for o in out2 if o.note != "already stored"]
    assert later.development_id == out1[0].development_id, later.note
    with Session(engine) as s:
        assert len(repo_alerts.list_alerts(s, monitor="pipe")) == 1
