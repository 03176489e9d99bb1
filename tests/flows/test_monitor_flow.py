"""The monitor flow end to end under prefect_test_harness, with real HTTP, SMTP and databases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from sqlmodel import Session

from flows.monitor_flow import monitor_flow
from pipeline.summary import PassSummary
from storage import repo_alerts, repo_feeds
from storage import repository as repo
from storage.db import get_engine
from tests.flows.conftest import SmtpSink, slack_sink
from tests.support.httpserver import LocalHTTPServer, Response
from tests.support.newsfixture import Entry, serve_feed, serve_sample

REPO = Path(__file__).resolve().parents[2]
SEED_003 = "003_4a941d7cde7f6a05"
ARRIVES = ("guardian", "686b5362458d")  # Kim arrives in Russia to meet Putin (summit, sanctions)
SEED_COPY = ("guardian", "8506a2e848a0")  # a syndicated copy of seed 003
UNRELATED = ("guardian", "0952f64a7765")  # UK ticket resellers


def write_monitor(
    tmp_path: Path, site: LocalHTTPServer, smtp: SmtpSink, db_url: str, feeds: dict[str, str]
) -> Path:
    cfg = {
        "name": "it-monitor",
        "seeds": str(REPO / "seeds"),
        "data_dir": str(tmp_path / "data"),
        "database_url": db_url,
        "feeds": [{"name": n, "url": u} for n, u in feeds.items()],
        "channels": {
            "slack": {"webhook_url": {"env": "NEWSMON_TEST_SLACK_URL"}, "min_interval_seconds": 0},
            "email": {
                "host": "127.0.0.1",
                "port": smtp.port,
                "tls": "none",
                "from": "newsmon@test.local",
                "to": ["analyst@test.local"],
            },
            "outbox": True,
        },
        "fetch": {
            "allow_networks": ["127.0.0.1/32"],
            "connect_timeout": 2,
            "read_timeout": 3,
            "total_timeout": 5,
        },
    }
    path = tmp_path / "monitor.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return path


def test_pass_stores_dedups_tags_and_alerts_once_per_channel(
    tmp_path: Path,
    site: LocalHTTPServer,
    smtp: SmtpSink,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slack = slack_sink(site)
    monkeypatch.setenv("NEWSMON_TEST_SLACK_URL", site.url("/slack/hook"))
    arrives = serve_sample(site, *ARRIVES)
    seed_copy = serve_sample(site, *SEED_COPY)
    unrelated = serve_sample(site, *UNRELATED)
    # the same story syndicated under another URL (same body, other page furniture)
    wire = Entry(
        "wire:1", arrives.title, "/wire/kim-arrives.html", arrives.pubdate, arrives.description
    )
    page = site.routes[arrives.path]
    assert isinstance(page, Response)
    site.route(wire.path, Response(200, page.body.replace(b"The Guardian", b"Wire Daily")))
    feeds = {
        "alpha": serve_feed(site, "/alpha.xml", [arrives, seed_copy, unrelated]),
        "beta": serve_feed(site, "/beta.xml", [arrives, wire]),
        "broken": site.url("/broken.xml"),
    }
    site.route("/broken.xml", Response(500, b"upstream exploded"))
    monitor = write_monitor(tmp_path, site, smtp, db_url, feeds)

    summary = monitor_flow(monitor=str(monitor))

    assert summary.feeds_polled == 3
    assert list(summary.feeds_failed) == ["broken"]
    assert "500" in summary.feeds_failed["broken"]
    engine = get_engine(db_url)
    with Session(engine) as s:
        arts = {a.url: a for a in repo.list_articles(s, monitor="it-monitor")}
        tags = repo.tags_for(s, article_ids=[a.id or 0 for a in arts.values()])
        alerts = repo_alerts.list_alerts(s, monitor="it-monitor")
    assert set(arts) == {site.url(e.path) for e in (arrives, seed_copy, unrelated, wire)}
    a = arts[site.url(arrives.path)]
    assert {t.topic for t in tags[a.id or 0]} >= {"summits"}
    assert all(t.evidence for t in tags[a.id or 0])
    assert a.relevant and a.duplicate_kind is None
    dup_seed = arts[site.url(seed_copy.path)]
    assert (dup_seed.duplicate_kind, dup_seed.duplicate_ref) == ("seed", SEED_003)
    dup_art = arts[site.url(wire.path)]
    assert (dup_art.duplicate_kind, dup_art.duplicate_ref) == ("article", str(a.id))
    assert arts[site.url(unrelated.path)].relevant is False

    # exactly one development alerted, once per channel, all delivered
    assert sorted((x.channel, x.status, x.development_id) for x in alerts) == [
        ("email", "sent", a.development_id),
        ("outbox", "sent", a.development_id),
        ("slack", "sent", a.development_id),
    ]
    assert len(slack) == 1
    payload = json.loads(slack[0].body)
    assert arrives.title in json.dumps(payload, ensure_ascii=False)
    assert len(smtp.messages) == 1
    msg = smtp.messages[0]
    assert arrives.title[:40] in str(msg["Subject"])
    assert sorted(p.get_content_type() for p in msg.walk() if not p.is_multipart()) == [
        "text/html",
        "text/plain",
    ]
    outbox = list((tmp_path / "data" / "outbox").glob("*.txt"))
    assert len(outbox) == 1

    # the second pass finds nothing new, fetches no article page and repeats no alert
    page_requests = len(site.requests_to(arrives.path)) + len(site.requests_to(wire.path))
    again = monitor_flow(monitor=str(monitor), force=True)
    assert len(site.requests_to(arrives.path)) + len(site.requests_to(wire.path)) == page_requests
    assert again.new_articles == 0
    assert again.alerts_created == 0
    assert len(slack) == 1 and len(smtp.messages) == 1
    with Session(engine) as s:
        assert len(repo.list_articles(s, monitor="it-monitor")) == 4
        sources = repo_feeds.list_feeds(s, monitor="it-monitor")
    assert {f.name: f.status for f in sources} == {"alpha": "ok", "beta": "ok", "broken": "failing"}


def test_pass_where_every_feed_failed_ends_failed_and_tells_the_operator_once(
    tmp_path: Path,
    site: LocalHTTPServer,
    smtp: SmtpSink,
    sqlite_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slack = slack_sink(site)
    monkeypatch.setenv("NEWSMON_TEST_SLACK_URL", site.url("/slack/hook"))
    site.route("/a.xml", Response(500, b"upstream exploded"))
    site.route("/b.xml", Response(404, b"gone missing"))
    feeds = {"a": site.url("/a.xml"), "b": site.url("/b.xml")}
    monitor = write_monitor(tmp_path, site, smtp, sqlite_url, feeds)

    state = monitor_flow(monitor=str(monitor), return_state=True)

    assert state.is_failed() and state.name == "Failed"
    assert "every due feed failed (2 of 2: a, b)" in (state.message or "")
    summary = state.result(raise_on_failure=False)
    assert isinstance(summary, PassSummary)
    assert summary.status == "failed" and sorted(summary.feeds_failed) == ["a", "b"]
    assert len(slack) == 1
    assert "failed" in json.dumps(json.loads(slack[0].body)).lower()
    assert len(smtp.messages) == 1 and "Run failed" in str(smtp.messages[0]["Subject"])
    (note,) = (tmp_path / "data" / "outbox").glob("*run_failed*.txt")
    assert "every due feed failed" in note.read_text()
    with Session(get_engine(sqlite_url)) as s:
        alerts = repo_alerts.list_alerts(s, monitor="it-monitor")
    assert sorted((a.channel, a.kind, a.status) for a in alerts) == [
        ("email", "run_failed", "sent"),
        ("outbox", "run_failed", "sent"),
        ("slack", "run_failed", "sent"),
    ]


def test_missing_seeds_folder_stops_the_run_before_anything_is_written(
    tmp_path: Path,
    site: LocalHTTPServer,
    smtp: SmtpSink,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slack = slack_sink(site)
    monkeypatch.setenv("NEWSMON_TEST_SLACK_URL", site.url("/slack/hook"))
    db_file = tmp_path / "data" / "newsmon.db"
    monitor = write_monitor(tmp_path, site, smtp, f"sqlite:///{db_file}", {"a": site.url("/a")})
    data = yaml.safe_load(monitor.read_text())
    data["seeds"] = str(tmp_path / "no-such-seeds")
    monitor.write_text(yaml.safe_dump(data))

    state = monitor_flow(monitor=str(monitor), return_state=True)

    assert state.is_failed()
    assert "no-such-seeds" in (state.message or "") and "does not exist" in (state.message or "")
    assert not db_file.exists() and not (tmp_path / "data").exists()  # no database, no outbox
    assert slack == [] and smtp.messages == []
    assert site.requests_to("/a") == []  # nothing fetched
