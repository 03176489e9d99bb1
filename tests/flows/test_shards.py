"""One monitor as two shards on two workers stores what one run stores.

`scripts/bench_scaleout.py` on a small local site: a Prefect server on PostgreSQL, a process
work pool and two `prefect worker --limit 1` processes; the monitor runs (a) unsharded, once,
on a fresh database, then (b) as shards 1/2 and 2/2 (two deployments, triggered together) on
another fresh database. The story here is listed by both feeds (and copied by a wire service),
so the shards meet on it: one article per URL, one alert. (Grouping is order-dependent: a story
whose reports straddle the shards can be grouped differently when one shard's batch is processed
before the other's; the benchmark measures that on the sample feeds, docs/benchmarks.md.)

Also, fast: `newsmon run --shard` refuses a bad shard, and a crashed-run check leaves the open
run of a shard that is still running alone.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session

from flows.cli import main
from flows.crashes import notice_crashed_runs
from monitors.config import parse_config
from scripts.bench_scaleout import compare, report
from scripts.scaleout_demo_setup import MonitorSpec
from storage import repo_feeds
from storage.db import get_engine, session_scope
from storage.locks import monitor_lock, shard_lock_name
from storage.models import Run
from tests.conftest import POSTGRES_ADMIN_URL, REPO, require_postgres
from tests.support.httpserver import LocalHTTPServer, Response
from tests.support.newsfixture import Entry, serve_feed, serve_sample

ARRIVES = ("guardian", "686b5362458d")  # Kim arrives in Russia to meet Putin: a new development
SEED_COPY = ("guardian", "8506a2e848a0")  # a syndicated copy of seed 003: known, no alert
UNRELATED = ("guardian", "0952f64a7765")  # UK ticket resellers: out of scope


@pytest.mark.postgres
@pytest.mark.slow
def test_two_shards_store_the_articles_and_alerts_of_one_run(
    site: LocalHTTPServer, tmp_path: Path
) -> None:
    require_postgres()
    arrives = serve_sample(site, *ARRIVES)
    wire = Entry("wire:1", arrives.title, "/wire.html", arrives.pubdate, arrives.description)
    page = site.routes[arrives.path]
    assert isinstance(page, Response)
    site.route(wire.path, Response(200, page.body.replace(b"The Guardian", b"Wire Daily")))
    feeds = {
        "alpha": serve_feed(site, "/alpha.xml", [arrives, serve_sample(site, *UNRELATED)]),
        "beta": serve_feed(site, "/beta.xml", [arrives, wire, serve_sample(site, *SEED_COPY)]),
    }

    cmp = compare(
        MonitorSpec("shard-test", feeds),
        folder=tmp_path,
        shards=2,
        timeout=240,
        admin_url=POSTGRES_ADMIN_URL,
    )

    print(report(cmp))
    assert cmp.problems() == [], report(cmp)
    whole, sharded = cmp.whole, cmp.sharded
    assert {r.worker for r in sharded.runs} == {"worker-1", "worker-2"}
    assert [r.new_articles for r in whole.runs] == [4]
    assert sum(r.new_articles or 0 for r in sharded.runs) == 4  # the shared URL stored once
    urls = {site.url(p) for p in (arrives.path, wire.path)}
    assert urls <= whole.outcome.articles and len(whole.outcome.articles) == 4
    assert sharded.outcome.articles == whole.outcome.articles
    # one alert (outbox), about the development of the arrival and its wire copy
    assert sum(whole.outcome.alerts.values()) == 1
    ((channel, kind, *about),) = whole.outcome.alerts
    assert (channel, kind, set(about)) == ("outbox", "new_development", urls)
    assert sharded.outcome.alerts == whole.outcome.alerts


def test_run_refuses_a_bad_shard(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--shard", "3/2"]) == 2
    err = capsys.readouterr().err
    assert "--shard" in err and "'3/2'" in err and "K/N with 1 <= K <= N" in err


def test_crash_check_leaves_a_running_shard_alone(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'newsmon.db'}"
    cfg = parse_config(
        {
            "name": "mon",
            "seeds": str(REPO / "seeds"),
            "data_dir": str(tmp_path / "data"),
            "database_url": url,
            "feeds": [{"name": "a", "url": "http://127.0.0.1:9/a.xml"}],
        }
    )
    engine = get_engine(url)
    with session_scope(engine) as s:
        run_id = repo_feeds.start_run(s, monitor="mon", flow_run_id=None, shard="2/2").id
    with monitor_lock(engine, shard_lock_name("mon", "2/2"), timeout=1):  # shard 2/2 is running
        assert notice_crashed_runs(cfg, engine, run_url=None, shard="1/2") == []
        assert notice_crashed_runs(cfg, engine, run_url=None) == []  # nor does an unsharded run
    with Session(engine) as s:
        run = s.get(Run, run_id)
        assert run is not None and run.finished_at is None
    lines = notice_crashed_runs(cfg, engine, run_url=None, shard="1/2")  # 2/2 died
    assert len(lines) == 1 and f"run {run_id} " in lines[0]
    with Session(engine) as s:
        run = s.get(Run, run_id)
        assert run is not None and run.finished_at is not None
        assert (run.summary or {}).get("status") == "crashed"
