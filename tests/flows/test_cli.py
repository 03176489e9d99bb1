"""The `newsmon` command line: errors at the CLI (exact text), explain, seeds, export."""

from __future__ import annotations

import csv
import html
import io
import json
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func
from sqlmodel import Session, select

from flows.cli import main
from monitors.clock import utcnow
from monitors.config import load_config
from pipeline.run import run_pass
from storage.db import get_engine
from storage.models import Alert, Article, Development, Feed, Run, SeedDocument
from tests.support.httpserver import LocalHTTPServer
from tests.support.newsfixture import serve_feed, serve_sample

REPO = Path(__file__).resolve().parents[2]


def monitor_file(tmp_path: Path, feeds: dict[str, str] | None = None, **extra: object) -> Path:
    data = {
        "name": "cli-test",
        "seeds": str(REPO / "seeds"),
        "data_dir": str(tmp_path / "data"),
        "feeds": [
            {"name": n, "url": u} for n, u in (feeds or {"a": "http://127.0.0.1:9/f"}).items()
        ],
        "fetch": {"allow_networks": ["127.0.0.1/32"]},
        **extra,
    }
    p = tmp_path / "monitor.yaml"
    p.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return p


def test_malformed_monitor_file_exits_2_naming_the_field_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: bad\n"
        f"data_dir: {tmp_path / 'data'}\n"
        "feeds:\n  - {name: a, url: 'ftp://example.org/feed'}\n"
        "alerts: {topics: [summit]}\n",
        encoding="utf-8",
    )
    assert main(["run", "--monitor", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"newsmon: configuration error: {bad}: invalid monitor configuration\n"
        "  - feeds.0.url: must be an http:// or https:// URL, got 'ftp://example.org/feed'\n"
        "nothing was fetched or written.\n"
    )
    assert not (tmp_path / "data").exists()


def test_unknown_topic_error_lists_the_allowed_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = monitor_file(tmp_path, alerts={"topics": ["summit"]})
    assert main(["seeds", "--monitor", str(p)]) == 2
    err = capsys.readouterr().err
    assert (
        "alerts.topics names unknown topic(s) summit; allowed: flights, sanctions, summits" in err
    )


def test_seeds_lists_the_corpus(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["seeds", "--monitor", str(monitor_file(tmp_path))]) == 0
    out = capsys.readouterr().out
    assert f"seed corpus: {REPO / 'seeds'} (5 documents)" in out
    for seed_id in ("000_1d9295e4e457cdaa", "003_4a941d7cde7f6a05", "004_66667886bb51a6a5"):
        assert seed_id in out


def test_explain_reports_the_seed_a_page_copies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed = (REPO / "seeds" / "000_1d9295e4e457cdaa.txt").read_text(encoding="utf-8")
    paragraphs = [p for p in seed.split("\n") if len(p) > 80][:12]
    page = tmp_path / "copy.html"
    page.write_text(
        "<html><head><title>Syndicated</title></head><body><nav>Home | World | Asia</nav>"
        "<article><h1>North Korea and Russia expand exchanges after summit</h1>"
        + "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
        + "</article><footer>(c) Wire Daily. All rights reserved.</footer></body></html>",
        encoding="utf-8",
    )
    assert main(["explain", str(page), "--monitor", str(monitor_file(tmp_path))]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["duplicate"]["kind"] == "seed"
    assert result["duplicate"]["ref"] == "000_1d9295e4e457cdaa"
    assert result["nearest_seed"]["ref"] == "000_1d9295e4e457cdaa"
    assert result["would_alert"] is False
    assert result["why"].startswith("no: duplicate of seed 000_1d9295e4e457cdaa")
    assert {t["topic"] for t in result["topics"]} >= {"summits"}


def test_explain_of_a_missing_file_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.html"
    assert main(["explain", str(missing), "--monitor", str(monitor_file(tmp_path))]) == 1
    assert capsys.readouterr().err == (
        f"newsmon: explain: {str(missing)!r} is neither an http(s) URL nor a readable file\n"
    )


def test_export_and_listings_after_a_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with LocalHTTPServer() as site:
        arrives = serve_sample(site, "guardian", "686b5362458d")
        other = serve_sample(site, "guardian", "0952f64a7765")
        url = serve_feed(site, "/g.xml", [arrives, other])
        path = monitor_file(tmp_path, {"g": url})
        cfg = load_config(path)
        engine = get_engine(cfg.resolved_database_url)
        summary = run_pass(cfg, engine, now=utcnow())
    assert summary.feeds_polled == 1 and summary.new_articles == 2

    assert main(["export", "articles", "--format", "jsonl", "--monitor", str(path)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert sorted(r["url"] for r in rows) == sorted([site.url(arrives.path), site.url(other.path)])
    by_url = {r["url"]: r for r in rows}
    assert "summits" in by_url[site.url(arrives.path)]["topics"].split(",")

    out_csv = tmp_path / "alerts.csv"
    assert (
        main(["export", "alerts", "--format", "csv", "-o", str(out_csv), "--monitor", str(path)])
        == 0
    )
    assert capsys.readouterr().err == f"wrote 1 alerts to {out_csv}\n"
    alerts = list(csv.DictReader(io.StringIO(out_csv.read_text(encoding="utf-8"))))
    assert [(a["channel"], a["kind"], a["status"]) for a in alerts] == [
        ("outbox", "new_development", "sent")
    ]

    assert main(["feeds", "--monitor", str(path)]) == 0
    feeds_out = capsys.readouterr().out
    assert feeds_out.splitlines()[2].split()[:2] == ["g", "ok"]
    assert main(["developments", "--monitor", str(path)]) == 0
    devs_out = capsys.readouterr().out
    assert "Kim Jong-un arrives in Russia" in devs_out
    assert main(["alerts", "--monitor", str(path)]) == 0
    assert "new_development  sent" in capsys.readouterr().out


def test_explain_says_a_new_development_would_alert_and_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.support.newsfixture import sample_page

    _, body = sample_page("guardian", "686b5362458d", "http://127.0.0.1:9")
    path = tmp_path / "page.html"
    path.write_bytes(body)
    assert main(["explain", str(path), "--monitor", str(monitor_file(tmp_path))]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["duplicate"] is None
    assert result["published"].startswith("2023-09-12")
    assert result["would_alert"] is True
    assert result["why"].startswith("yes: a new development on watched topic(s) ")
    assert "summits" in result["why"]
    # a dry run: the database holds nothing of it, not even the seeds it compared with
    cfg = load_config(monitor_file(tmp_path))
    with Session(get_engine(cfg.resolved_database_url)) as s:
        for table in (Article, Alert, Development, Feed, SeedDocument, Run):
            assert s.exec(select(func.count()).select_from(table)).one() == 0, table
