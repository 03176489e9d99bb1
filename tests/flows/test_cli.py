"""The `newsmon` command line: errors at the CLI (exact text), explain, seeds, export."""

from __future__ import annotations

import csv
import html
import io
import json
import os
import re
import socket
import subprocess
import sys
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
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


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
    assert "summits" in by_url[site.url(arrives.path)]["topics"]
    assert ISO_Z.match(by_url[site.url(arrives.path)]["first_seen_at"])

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
    # one created_at everywhere: the CSV, the JSON listing and the outbox file agree
    created = alerts[0]["created_at"]
    assert ISO_Z.match(created), created
    assert main(["alerts", "--json", "--monitor", str(path)]) == 0
    assert [a["created_at"] for a in json.loads(capsys.readouterr().out)] == [created]
    (outbox_json,) = cfg.outbox_dir.glob("*.json")
    stored = json.loads(outbox_json.read_text(encoding="utf-8"))["created_at"]
    assert stored == created

    assert main(["feeds", "--monitor", str(path)]) == 0
    feeds_out = capsys.readouterr().out
    (g_row,) = [line for line in feeds_out.splitlines() if line.lstrip().startswith("g ")]
    assert g_row.split()[:2] == ["g", "ok"]
    assert main(["feeds", "--json", "--monitor", str(path)]) == 0
    (feed,) = json.loads(capsys.readouterr().out)
    assert (feed["feed"], feed["status"], feed["consecutive_failures"]) == ("g", "ok", 0)
    assert ISO_Z.match(feed["last_success_at"])

    assert main(["developments", "--json", "--monitor", str(path)]) == 0
    devs = json.loads(capsys.readouterr().out)
    new_devs = [d for d in devs if d["status"] == "new"]
    assert [d["title"] for d in new_devs] == [
        "Kim Jong-un arrives in Russia to meet Putin as US threatens sanctions"
    ]

    # tables fit an 80-column terminal and wrap the headline at word boundaries
    os.environ["COLUMNS"] = "80"
    try:
        assert main(["developments", "--monitor", str(path)]) == 0
        table = capsys.readouterr().out
        assert main(["alerts", "--monitor", str(path)]) == 0
        alerts_table = capsys.readouterr().out
    finally:
        del os.environ["COLUMNS"]
    assert max(len(line) for line in table.splitlines()) <= 80
    words = " ".join(table.split())
    for word in new_devs[0]["title"].split():
        assert word in words.split(), word  # never cut mid-word
    assert max(len(line) for line in alerts_table.splitlines()) <= 80
    assert "[newsmon:" not in alerts_table
    assert "sent" in alerts_table.split()

    # unknown ids: one line, a remedy, exit status 3
    assert main(["alerts", "retry", "999", "--monitor", str(path)]) == 3
    assert capsys.readouterr().err == (
        "newsmon: alerts retry: no alert 999 in monitor cli-test\n"
        "  list the dead ones with `newsmon alerts --status dead`\n"
    )
    sent_id = int(alerts[0]["id"])
    assert main(["alerts", "retry", str(sent_id), "--monitor", str(path)]) == 3
    assert capsys.readouterr().err == (
        f"newsmon: alerts retry: alert {sent_id} is sent; only dead alerts are retried\n"
        "  list the dead ones with `newsmon alerts --status dead`\n"
    )


def test_empty_listings_say_what_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = monitor_file(tmp_path)
    assert main(["alerts", "--status", "dead", "--monitor", str(path)]) == 0
    assert capsys.readouterr().out == "(no dead alerts for cli-test)\n"
    assert main(["alerts", "--json", "--monitor", str(path)]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_version_and_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"newsmon {version('newsmon')}\n"
    assert main(["alerts", "retry", "x"]) == 2
    assert capsys.readouterr().err == (
        "newsmon: alerts: argument ids: invalid int value: 'x'\n  see `newsmon alerts --help`\n"
    )
    assert main(["frobnicate"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("newsmon: argument command: invalid choice: 'frobnicate'")
    assert err.endswith("\n  see `newsmon --help`\n")


def test_sample_server_on_a_busy_port_is_one_line_and_exit_4(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["sample-server", "--port", str(port)]) == 4
    assert capsys.readouterr().err == (
        f"newsmon: sample-server: cannot listen on 127.0.0.1:{port} (Address already in use)\n"
        "  stop what uses that port, or pick another with --port "
        "(and set NEWSMON_SAMPLE_PORT to the same for the sample monitor)\n"
    )


def test_works_from_any_folder_and_a_closed_pipe_is_quiet(tmp_path: Path) -> None:
    """From an unrelated folder the bundled monitor and seeds are found; `| head` is clean."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "NEWSMON_"))}
    env["NEWSMON_DATA_DIR"] = str(tmp_path / "data")
    newsmon = str(Path(sys.executable).with_name("newsmon"))
    proc = subprocess.run(
        f"{newsmon} seeds | head -n 1",
        shell=True,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.stderr == ""
    assert proc.stdout == f"seed corpus: {REPO / 'seeds'} (5 documents)\n"
    # the reader is gone before newsmon writes: no BrokenPipeError traceback
    closed = subprocess.run(
        f"{newsmon} seeds --json | true",
        shell=True,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert closed.stderr == ""


def test_run_without_a_prefect_server_says_how_to_start_one(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "NEWSMON_"))}
    env["PREFECT_HOME"] = str(tmp_path / "prefect-home")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again below: nothing answers there
    env["NEWSMON_PREFECT_PORT"] = str(port)
    env["NEWSMON_DATA_DIR"] = str(tmp_path / "data")
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("newsmon")), "run"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 4
    assert proc.stderr == (
        "newsmon: no Prefect server: PREFECT_API_URL is not set and nothing answers at "
        f"http://127.0.0.1:{port}/api\n"
        "  start one with `make server` in the newsmon checkout, or set PREFECT_API_URL\n"
    )
    assert not (tmp_path / "data").exists()


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
    assert result["published"] == "2023-09-12T01:37:56Z"  # with its time of day
    assert result["would_alert"] is True
    assert result["why"].startswith("yes: a new development on watched topic(s) ")
    assert "summits" in result["why"]
    # a dry run: the database holds nothing of it, not even the seeds it compared with
    cfg = load_config(monitor_file(tmp_path))
    with Session(get_engine(cfg.resolved_database_url)) as s:
        for table in (Article, Alert, Development, Feed, SeedDocument, Run):
            assert s.exec(select(func.count()).select_from(table)).one() == 0, table


MONITOR_WITH_COMMENTS = """\
# My monitor: keep this comment
name: opml-test
seeds: {seeds}
data_dir: {data}
feeds:
  # wires first
  - {{name: wire, outlet: Example Wire, url: "https://wire.example.org/rss"}}
  - {{name: paper, outlet: The Paper, url: "https://paper.example.com/world.xml"}}
# the end
"""


def test_opml_export_then_import_round_trips_and_keeps_comments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = tmp_path / "a.yaml"
    a.write_text(
        MONITOR_WITH_COMMENTS.format(seeds=REPO / "seeds", data=tmp_path / "data"),
        encoding="utf-8",
    )
    opml = tmp_path / "a.opml"
    assert main(["feeds", "export", "-o", str(opml), "--monitor", str(a)]) == 0
    assert capsys.readouterr().err == f"wrote 2 feed(s) to {opml}\n"

    b = tmp_path / "b.yaml"
    b.write_text(
        "# B keeps its comments too\nname: b\n"
        f"seeds: {REPO / 'seeds'}\ndata_dir: {tmp_path / 'data'}\n"
        "feeds:\n  - {name: local, url: 'http://127.0.0.1:9/f'}  # a local feed\n"
        "alerts: {topics: [summits]}\n",
        encoding="utf-8",
    )
    assert main(["feeds", "import", str(opml), "--monitor", str(b)]) == 0
    assert capsys.readouterr().out == (
        f"added 2 feed(s) to {b}; skipped 0\n"
        "  + wire: https://wire.example.org/rss\n"
        "  + paper: https://paper.example.com/world.xml\n"
    )
    text = b.read_text(encoding="utf-8")
    assert text.startswith("# B keeps its comments too\n")
    assert "  - {name: local, url: 'http://127.0.0.1:9/f'}  # a local feed\n" in text
    assert text.endswith("alerts: {topics: [summits]}\n")
    feeds = {f.name: (f.outlet, f.url) for f in load_config(b).feeds}
    assert {n: feeds[n] for n in ("wire", "paper")} == {
        f.name: (f.outlet, f.url) for f in load_config(a).feeds
    }
    # importing again adds nothing: no duplicates
    assert main(["feeds", "import", str(opml), "--monitor", str(b), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["added"] == []
    assert [s["reason"] for s in result["skipped"]] == ["already in the monitor"] * 2
    assert b.read_text(encoding="utf-8") == text


def test_opml_from_a_feed_reader_is_validated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = monitor_file(tmp_path)
    opml = tmp_path / "reader.opml"
    opml.write_text(
        '<?xml version="1.0"?><opml version="1.0"><head/><body>'
        '<outline text="News"><outline type="rss" text="BBC World" '
        'xmlUrl="https://feeds.example.co.uk/news/world/rss.xml"/>'
        '<outline type="rss" text="BBC World" xmlUrl="https://feeds.example.co.uk/other.xml"/>'
        '<outline type="rss" text="Old" xmlUrl="ftp://old.example/feed"/></outline>'
        "</body></opml>",
        encoding="utf-8",
    )
    assert main(["feeds", "import", str(opml), "--monitor", str(path)]) == 0
    assert capsys.readouterr().out == (
        f"added 2 feed(s) to {path}; skipped 1\n"
        "  + bbc-world: https://feeds.example.co.uk/news/world/rss.xml\n"
        "  + bbc-world-2: https://feeds.example.co.uk/other.xml\n"
        "  = ftp://old.example/feed: not an http(s) URL\n"
    )
    assert [f.outlet for f in load_config(path).feeds][-2:] == ["BBC World", "BBC World"]
    bad = tmp_path / "bad.opml"
    bad.write_text("<html><body>not opml</body></html>", encoding="utf-8")
    before = path.read_text(encoding="utf-8")
    assert main(["feeds", "import", str(bad), "--monitor", str(path)]) == 1
    assert capsys.readouterr().err == (
        f"newsmon: {bad}: not an OPML file (root element <html>, expected <opml>)\n"
    )
    assert path.read_text(encoding="utf-8") == before


def test_run_from_another_folder_uses_the_local_server_and_the_run_stays_visible(
    tmp_path: Path,
) -> None:
    """No PREFECT_API_URL, cwd outside the checkout: the run goes to the local server."""
    from tests.flows.prefect_server import PrefectServer, describe

    with LocalHTTPServer() as site, PrefectServer(tmp_path / "prefect") as server:
        url = serve_feed(site, "/g.xml", [serve_sample(site, "guardian", "686b5362458d")])
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        path = monitor_file(tmp_path, {"g": url})
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "NEWSMON_"))}
        env.update(
            PREFECT_HOME=str(tmp_path / "client-home"), NEWSMON_PREFECT_PORT=str(server.port)
        )
        proc = subprocess.run(
            [str(Path(sys.executable).with_name("newsmon")), "run", "--monitor", str(path)],
            cwd=elsewhere,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0, describe(proc)
        assert "Finished in state" not in proc.stderr  # Prefect's per-task lines stay in the UI
        assert "  extract: 1 article(s) extracted\n" in proc.stderr
        (ui_line,) = [line for line in proc.stdout.splitlines() if "Prefect UI" in line]
        prefix = f"http://127.0.0.1:{server.port}/runs/flow-run/"
        run_url = ui_line.split()[-1]
        assert run_url.startswith(prefix), proc.stdout
        import httpx

        run = httpx.get(f"{server.api_url}/flow_runs/{run_url.removeprefix(prefix)}").json()
        assert run["state"]["type"] == "COMPLETED"
        assert run["parameters"]["monitor"] == str(path)
    assert not (elsewhere / "data").exists()  # the monitor file's data_dir was used


def test_run_as_of_a_past_time_stores_and_delivers_on_the_simulated_clock(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from datetime import UTC, datetime, timedelta

    from sqlmodel import Session, select

    from monitors.clock import as_utc
    from storage.models import Alert, Article, Run

    as_of = datetime(2023, 9, 13, tzinfo=UTC)
    with LocalHTTPServer() as site:
        arrives = serve_sample(site, "guardian", "686b5362458d")
        path = monitor_file(tmp_path, {"g": serve_feed(site, "/g.xml", [arrives])})
        assert main(["run", "--as-of", "2023-09-13T00:00:00Z", "--monitor", str(path)]) == 0
    capsys.readouterr()
    with Session(get_engine(load_config(path).resolved_database_url)) as s:
        run = s.exec(select(Run)).one()
        article = s.exec(select(Article)).one()
        alert = s.exec(select(Alert)).one()
    for stamp in (run.started_at, run.finished_at, article.first_seen_at, alert.created_at):
        assert timedelta(0) <= (as_utc(stamp) or as_of) - as_of < timedelta(minutes=10)
    assert alert.status == "sent"  # nothing waits for the wall clock to catch up
    assert utcnow().year > 2023  # the process is back on the wall clock


def test_run_as_of_rejects_a_time_it_cannot_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--as-of", "yesterday", "--monitor", str(monitor_file(tmp_path))]) == 2
    assert "--as-of: not an ISO 8601 time: 'yesterday'" in capsys.readouterr().err
