"""One monitor as shards stores, groups and alerts what one run does.

Grouping into developments depends on the order articles are processed in, so the shards of a
round stage their candidates and one run processes them all as one batch (`pipeline.stage`).
Here on a small local site whose story is reported on both shards' feeds, a day apart: one run
processes the earlier report first and alerts on it, then the later one as a new development
(it adds a watched topic, sanctions, to the story) and alerts on it too; processing shard 2/2's
batch before 1/2's (what shards did before the barrier) groups the two reports as one
development and alerts once.

* two shards run at once (two threads running the real pass, with the real monitor lock) give
  the developments and alerts of one unsharded run, on SQLite and PostgreSQL;
* a shard whose peer never stages processes what is staged when its wait expires, and says so;
* candidates staged by a run killed (SIGKILL) at the barrier are processed by the next run,
  a shard's or an unsharded one;
* `scripts/bench_scaleout.py` on a small site, slow: a Prefect server on PostgreSQL, a process
  work pool and two `prefect worker --limit 1` processes; the monitor runs (a) unsharded, once,
  on a fresh database, then (b) as shards 1/2 and 2/2 (two deployments, triggered together) on
  another fresh database: the same articles, one per URL, and the same developments and
  alerts (the site has the first report and another of the meeting, VIDEO, besides a story
  listed by both feeds).

Also, fast: `newsmon run --shard` refuses a bad shard, and a crashed-run check leaves the open
run of a shard that is still running alone.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlmodel import Session, select

from flows.cli import format_summary, main
from flows.crashes import notice_crashed_runs
from monitors.clock import utcnow
from monitors.config import MonitorConfig, parse_config
from monitors.shard import parse_shard
from pipeline.run import run_pass
from pipeline.summary import PassSummary
from scripts.bench_scaleout import compare, report
from scripts.scaleout_demo_setup import MonitorSpec
from storage import repo_feeds, repo_staging
from storage.db import get_engine, session_scope
from storage.locks import SerialSections, monitor_lock, shard_lock_name
from storage.models import Alert, Article, Run
from tests.conftest import POSTGRES_ADMIN_URL, REPO, require_postgres
from tests.support.httpserver import LocalHTTPServer, Response
from tests.support.newsfixture import Entry, serve_feed, serve_sample

ARRIVES = ("guardian", "686b5362458d")  # Kim arrives in Russia to meet Putin: a new development
SEED_COPY = ("guardian", "8506a2e848a0")  # a syndicated copy of seed 003: known, no alert
UNRELATED = ("guardian", "0952f64a7765")  # UK ticket resellers: out of scope

#: Two reports of the Putin-Kim meeting a day apart, on the feeds of different shards: processed
#: in order of publication (one run, or the round's one batch) each is a new development and
#: alerts (the later one adds a watched topic to the story); processed 2/2 first (the shards'
#: batches one after the other) the earlier report joins the later one's development: one
#: development, one alert.
FIRST = ("aljazeera", "7c8e9609aa41")  # 2023-09-11: "Kim Jong Un and Vladimir Putin meeting"
LATER = ARRIVES  # 2023-09-12: "Kim Jong-un arrives in Russia ... as US threatens sanctions"
#: Another report of the meeting, on 2023-09-12: "Video shows Kim ... Russian officials".
VIDEO = ("nbcnews-world", "fdbf403f219c")

#: A run killed at the barrier: shard K/N of the monitor file, holding its shard's lock as a
#: flow run does (argv: monitor file, shard).
STAGE_AND_WAIT = """
import sys
from monitors.clock import utcnow
from monitors.config import load_config
from monitors.shard import parse_shard
from pipeline.run import run_pass
from storage.db import get_engine
from storage.locks import SerialSections, monitor_lock, shard_lock_name
cfg, shard = load_config(sys.argv[1]), parse_shard(sys.argv[2])
engine = get_engine(cfg.resolved_database_url)
with monitor_lock(engine, shard_lock_name(cfg.name, sys.argv[2]), timeout=60):
    serial = SerialSections(engine, cfg.name, timeout=60)
    run_pass(cfg, engine, now=utcnow(), shard=shard, serial=serial)
"""


def story_site(site: LocalHTTPServer) -> dict[str, str]:
    """Feed 1 (shard 1/2): the first report and an unrelated story; feed 2 (shard 2/2): the
    later report and a seed copy."""
    return {
        "alpha": serve_feed(site, "/alpha.xml", [serve_sample(site, *FIRST),
                                                 serve_sample(site, *UNRELATED)]),
        "beta": serve_feed(site, "/beta.xml", [serve_sample(site, *LATER),
                                               serve_sample(site, *SEED_COPY)]),
    }  # fmt: skip


def monitor_data(name: str, feeds: dict[str, str], tmp_path: Path, db_url: str,
                 barrier: float) -> dict[str, Any]:  # fmt: skip
    """A monitor file's content: `feeds` (outlets named after the sample outlets), `barrier`
    seconds of wait for the shards of a round."""
    outlets = {"alpha": "Al Jazeera", "beta": "NBC News"}
    return {
        "name": name,
        "seeds": str(REPO / "seeds"),
        "data_dir": str(tmp_path / "data" / name),
        "database_url": db_url,
        "feeds": [{"name": n, "url": u, "outlet": outlets[n]} for n, u in feeds.items()],
        "silence_alerts": False,
        "fetch": {"allow_networks": ["127.0.0.1/32"]},
        "shards": {"barrier_seconds": barrier},
    }


def a_pass(cfg: MonitorConfig, shard: str | None = None) -> PassSummary:
    """The real pass of `cfg` (of one shard, taking the monitor's lock for its serial
    sections as the flow does)."""
    engine = get_engine(cfg.resolved_database_url)
    part = parse_shard(shard)
    serial = SerialSections(engine, cfg.name, timeout=120) if part else nullcontext
    return run_pass(cfg, engine, now=utcnow(), shard=part, serial=serial)


def together(*passes: Callable[[], PassSummary]) -> list[PassSummary]:
    """Run the passes at once, one thread each; their summaries in the same order."""
    with ThreadPoolExecutor(len(passes)) as pool:
        return [f.result(timeout=300) for f in [pool.submit(p) for p in passes]]


def stored(db_url: str, monitor: str) -> tuple[Counter[frozenset[str]], Counter[tuple[str, ...]]]:
    """A monitor's developments (the URLs of their articles) and alerts (channel, kind, and
    the URLs of their development's articles)."""
    with Session(get_engine(db_url)) as s:
        by_dev: dict[int, set[str]] = {}
        for a in s.exec(select(Article).where(Article.monitor == monitor)):
            if a.development_id is not None:
                by_dev.setdefault(a.development_id, set()).add(a.url)
        alerts: Counter[tuple[str, ...]] = Counter()
        for al in s.exec(select(Alert).where(Alert.monitor == monitor)):
            about = sorted(by_dev.get(al.development_id or -1, {al.dedup_key}))
            alerts[(al.channel, al.kind, *about)] += 1
    return Counter(frozenset(v) for v in by_dev.values()), alerts


def nothing_staged(db_url: str, monitor: str) -> bool:
    """Whether no candidate or arrival of `monitor` is left staged."""
    with Session(get_engine(db_url)) as s:
        return repo_staging.count_staged(s, monitor=monitor) == 0


@pytest.mark.timeout(600)
def test_two_shards_at_once_group_and_alert_as_one_run(
    site: LocalHTTPServer, tmp_path: Path, db_url: str
) -> None:
    feeds = story_site(site)
    whole = parse_config(monitor_data("whole", feeds, tmp_path, db_url, 60))
    (one,) = together(lambda: a_pass(whole))
    devs, alerts = stored(db_url, "whole")
    first, later = (
        site.url(f"/articles/{FIRST[0]}/{FIRST[1]}.html"),
        site.url(f"/articles/{LATER[0]}/{LATER[1]}.html"),
    )
    assert one.new_articles == 4 and sum(alerts.values()) == 2, (one.round_note, alerts)
    assert alerts == Counter(("outbox", "new_development", u) for u in (first, later))
    seed_copy = site.url(f"/articles/{SEED_COPY[0]}/{SEED_COPY[1]}.html")  # the seed's development
    assert devs == Counter(frozenset({u}) for u in (first, later, seed_copy)), devs

    # before the barrier: shard 2/2's batch, then 1/2's (no wait: each processes its own)
    apart = parse_config(monitor_data("apart", feeds, tmp_path, db_url, 0))
    a_pass(apart, "2/2"), a_pass(apart, "1/2")
    assert stored(db_url, "apart") != (devs, alerts)  # the order matters on this site

    sharded = parse_config(monitor_data("sharded", feeds, tmp_path, db_url, 120))
    runs = together(lambda: a_pass(sharded, "1/2"), lambda: a_pass(sharded, "2/2"))

    assert stored(db_url, "sharded") == (devs, alerts)
    assert [r.staged_candidates for r in runs] == [2, 2]
    assert sorted(r.new_articles for r in runs) == [0, 4]  # stored once, by one of them
    assert sum(r.alerts_created for r in runs) == 2
    processed = [r for r in runs if r.new_articles]
    skipped = [r for r in runs if not r.new_articles]
    assert "processed the round: 4 candidate(s) of shard(s) 1/2, 2/2" in processed[0].round_note
    assert skipped[0].round_note.endswith("processed by a peer run of the round")
    assert all(not r.shards_missing for r in runs), [r.round_note for r in runs]
    assert nothing_staged(db_url, "sharded")


def test_a_shard_whose_peer_never_stages_processes_after_the_wait_and_says_so(
    site: LocalHTTPServer, tmp_path: Path, db_url: str
) -> None:
    cfg = parse_config(monitor_data("alone", story_site(site), tmp_path, db_url, 1.5))
    started = time.monotonic()
    summary = a_pass(cfg, "1/2")
    assert time.monotonic() - started >= 1.5
    assert summary.shards_missing == ["2/2"]
    assert "shard(s) 2/2 never staged" in summary.round_note, summary.round_note
    assert "processed the round: 2 candidate(s) of shard(s) 1/2" in summary.round_note
    assert summary.new_articles == 2 and summary.staged_candidates == 2
    assert "shard round" in format_summary(cfg, summary.as_dict())
    assert nothing_staged(db_url, "alone")


@pytest.mark.timeout(600)
@pytest.mark.parametrize("next_run", ["1/2", None], ids=["next-shard", "next-unsharded"])
def test_candidates_staged_by_a_killed_run_are_processed_by_the_next_run(
    site: LocalHTTPServer, tmp_path: Path, db_url: str, next_run: str | None
) -> None:
    feeds = story_site(site)
    whole = parse_config(monitor_data("whole", feeds, tmp_path, db_url, 60))
    a_pass(whole)
    data = monitor_data("killed", feeds, tmp_path, db_url, 600)  # waits for 1/2 at the barrier
    path = tmp_path / "killed.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-c", STAGE_AND_WAIT, str(path), "2/2"],
                            cwd=str(REPO), start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        while True:
            with Session(get_engine(db_url)) as s:
                if repo_staging.arrived_shards(s, monitor="killed"):
                    break
            assert proc.poll() is None, "the run of shard 2/2 ended before staging"
            assert time.monotonic() < deadline, "shard 2/2 never staged"
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert not nothing_staged(db_url, "killed")

    cfg = parse_config({**data, "shards": {"barrier_seconds": 1}})
    engine = get_engine(db_url)
    crashed = notice_crashed_runs(cfg, engine, run_url=None, shard=next_run)  # as the flow does
    assert len(crashed) == 1 and "killed or crashed" in crashed[0], crashed
    summary = a_pass(cfg, next_run)

    devs, alerts = stored(db_url, "killed")
    crash_notice = [a for a in alerts if a[1] == "run_failed"]
    assert len(crash_notice) == 1  # the operator is told about the killed run
    for a in crash_notice:
        del alerts[a]
    assert (devs, alerts) == stored(db_url, "whole")  # nothing lost, grouped and alerted the same
    assert summary.new_articles == 4, summary.round_note
    if next_run:
        assert summary.shards_missing == ["2/2"]  # the killed run's arrival no longer counts
    else:
        assert summary.round_note == "also processed 2 candidate(s) left staged by earlier runs"
    assert nothing_staged(db_url, "killed")


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
    first, later = serve_sample(site, *FIRST), serve_sample(site, *VIDEO)  # order matters
    feeds = {
        "alpha": serve_feed(site, "/alpha.xml", [arrives, first, serve_sample(site, *UNRELATED)]),
        "beta": serve_feed(site, "/beta.xml", [arrives, wire, later,
                                               serve_sample(site, *SEED_COPY)]),
    }  # fmt: skip

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
    assert [r.new_articles for r in whole.runs] == [6]
    assert sum(r.new_articles or 0 for r in sharded.runs) == 6  # the shared URL stored once
    assert sorted(r.staged or 0 for r in sharded.runs) == [3, 4]  # each shard's entries
    urls = {site.url(p) for p in (arrives.path, wire.path)}
    assert urls <= whole.outcome.articles and len(whole.outcome.articles) == 6
    assert sharded.outcome.articles == whole.outcome.articles
    # two alerts (outbox): the development of the arrival and its wire copy, and the first
    # report of the meeting (the later one, on the other shard's feed, is not grouped with it)
    assert whole.outcome.alerts == Counter(
        {
            ("outbox", "new_development", *sorted(urls)): 1,
            ("outbox", "new_development", site.url(first.path)): 1,
        }
    )
    assert sharded.outcome.alerts == whole.outcome.alerts
    assert sharded.outcome.developments == whole.outcome.developments


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
