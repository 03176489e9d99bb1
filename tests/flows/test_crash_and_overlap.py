"""Crashes and overlaps with real `newsmon run` processes against a real Prefect server.

* two runs of one monitor started together: the second waits for the first (the monitor lock)
  and the alerts are exactly those of one run;
* a run `kill -9`ed while polling, extracting, processing (some of its articles stored: the
  pass processes a few at a time) or delivering: the next run notices the
  crash (run closed as crashed, flow run Crashed in Prefect, operator channels told, said in its
  output), stores every entry and sends every owed alert, at most one duplicate per channel.

On SQLite and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import create_engine, text

from tests.flows.conftest import slack_sink
from tests.flows.prefect_server import BIN, REPO, PrefectServer, client_settings, describe
from tests.flows.prefect_server import prefect_server as prefect_server
from tests.support.httpserver import Handler, LocalHTTPServer, Request, Response
from tests.support.newsfixture import SAMPLES, Entry, conditional, serve_feed, serve_sample

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

ARRIVES = ("guardian", "686b5362458d")  # Kim arrives in Russia to meet Putin: a new development
SEED_COPY = ("guardian", "8506a2e848a0")  # a syndicated copy of seed 003: known, no alert
UNRELATED = ("guardian", "0952f64a7765")  # UK ticket resellers: out of scope


class Gate:
    """A route handler that holds its first request until opened (records every request)."""

    def __init__(self, inner: Handler | Response) -> None:
        self.inner = inner
        self.opened = threading.Event()
        self.requests: list[Request] = []

    def __call__(self, req: Request) -> Response | None:
        self.requests.append(req)
        if len(self.requests) == 1:
            self.opened.wait(120)
        return self.inner(req) if callable(self.inner) else self.inner

    def wait_requested(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while not self.requests:
            assert time.monotonic() < deadline, "the gated URL was never requested"
            time.sleep(0.2)


def bulk_feed(site: LocalHTTPServer, count: int) -> str:
    """A feed of `count` more bundled Guardian articles (so extraction and processing take a
    while); returns its URL."""
    taken = {ARRIVES[1], SEED_COPY[1], UNRELATED[1]}
    suffixes = sorted(p.stem for p in (SAMPLES / "articles" / "guardian").glob("*.html"))
    entries = [serve_sample(site, "guardian", x) for x in suffixes if x not in taken][:count]
    url = serve_feed(site, "/bulk.xml", entries)
    conditional(site, "/bulk.xml")
    return url


def setup_site(site: LocalHTTPServer) -> dict[str, str]:
    """Two feeds: a new development (also syndicated), a seed copy and an unrelated story."""
    arrives = serve_sample(site, *ARRIVES)
    wire = Entry("wire:1", arrives.title, "/wire.html", arrives.pubdate, arrives.description)
    page = site.routes[arrives.path]
    assert isinstance(page, Response)
    site.route(wire.path, Response(200, page.body.replace(b"The Guardian", b"Wire Daily")))
    alpha = [arrives, serve_sample(site, *SEED_COPY), serve_sample(site, *UNRELATED)]
    feeds = {
        "alpha": serve_feed(site, "/alpha.xml", alpha),
        "beta": serve_feed(site, "/beta.xml", [arrives, wire]),
    }
    conditional(site, "/alpha.xml")
    conditional(site, "/beta.xml")
    return feeds


def write_monitor(
    tmp_path: Path, feeds: dict[str, str], db_url: str, chunk: int | None = None
) -> Path:
    """The test monitor file; `chunk` articles per process step of the streaming pass."""
    data: dict[str, Any] = {
        "name": "crash-test",
        "seeds": str(REPO / "seeds"),
        "data_dir": str(tmp_path / "data"),
        "database_url": db_url,
        "feeds": [{"name": n, "url": u} for n, u in feeds.items()],
        "channels": {
            "slack": {"webhook_url": {"env": "NEWSMON_TEST_SLACK_URL"}, "min_interval_seconds": 0},
            "outbox": True,
        },
        "fetch": {"allow_networks": ["127.0.0.1/32"], "read_timeout": 150, "total_timeout": 200},
    }
    if chunk is not None:
        data["fetch"]["stream_chunk"] = chunk
    path = tmp_path / "monitor.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def start_run(
    server: PrefectServer, monitor: Path, log: Path, slack: str
) -> subprocess.Popen[bytes]:
    """`newsmon run --monitor FILE` in its own process group, output to `log`."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [str(BIN / "newsmon"), "run", "--monitor", str(monitor)],
            cwd=str(REPO),
            env=server.subprocess_env(NEWSMON_TEST_SLACK_URL=slack),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def kill9(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the run and everything it started (no hook, no finally runs)."""
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def rows(db_url: str, sql: str) -> list[tuple]:
    eng = create_engine(db_url)
    try:
        with eng.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql))]
    finally:
        eng.dispose()


def flow_run_state(server: PrefectServer, flow_run_id: str) -> str:
    from prefect.client.orchestration import get_client

    async def read() -> str:
        with client_settings(server):
            async with get_client() as client:
                run = await client.read_flow_run(uuid.UUID(flow_run_id))
        return run.state_type.value if run.state_type else "?"

    return asyncio.run(read())


def wait_task_running(server: PrefectServer, db_url: str, task: str, timeout: float = 240) -> None:
    """Wait until the run's task `task` (e.g. `extract`) is RUNNING in the Prefect API."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterId,
        TaskRunFilter,
        TaskRunFilterName,
    )

    async def states(flow_run_id: str) -> list[str]:
        with client_settings(server):
            async with get_client() as client:
                runs = await client.read_task_runs(
                    flow_run_filter=FlowRunFilter(
                        id=FlowRunFilterId(any_=[uuid.UUID(flow_run_id)])
                    ),
                    task_run_filter=TaskRunFilter(name=TaskRunFilterName(like_=task)),
                )
        return [r.state_type.value if r.state_type else "?" for r in runs]

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            ids = rows(db_url, "SELECT flow_run_id FROM run WHERE monitor = 'crash-test'")
        except Exception:  # the run has not migrated the new database yet
            ids = []
        if ids and "RUNNING" in asyncio.run(states(ids[0][0])):
            return
        time.sleep(0.1)
    raise AssertionError(f"task {task} never seen RUNNING")


def slack_kinds(sink: list[Request]) -> Counter[str]:
    """Slack posts by alert kind ('new development' or 'run failed')."""
    kinds: Counter[str] = Counter()
    for req in sink:
        body = json.dumps(json.loads(req.body)).lower()
        kinds["run_failed" if "newsmon run of crash-test failed" in body else "development"] += 1
    return kinds


def assert_everything_stored_and_sent(db_url: str, entries: int = 4) -> int:
    """Every entry stored once, every alert sent, each development alerted on both channels;
    returns the development alerts per channel."""
    urls = rows(db_url, "SELECT url FROM article WHERE monitor = 'crash-test'")
    assert len(urls) == entries and len(set(urls)) == entries, urls
    alerts = rows(db_url, "SELECT channel, kind, status FROM alert WHERE monitor = 'crash-test'")
    assert all(s == "sent" for _, _, s in alerts), alerts
    devs = Counter(c for c, k, _ in alerts if k == "new_development")
    assert devs["outbox"] == devs["slack"] >= 1, alerts
    return devs["slack"]


def test_two_overlapping_runs_send_the_alerts_of_one(
    prefect_server: PrefectServer, site: LocalHTTPServer, tmp_path: Path, db_url: str
) -> None:
    feeds = setup_site(site)
    gate = Gate(site.routes["/alpha.xml"])
    site.route("/alpha.xml", gate)
    sink = slack_sink(site, "/slack")
    monitor = write_monitor(tmp_path, feeds, db_url)

    first = start_run(prefect_server, monitor, tmp_path / "first.log", site.url("/slack"))
    second = start_run(prefect_server, monitor, tmp_path / "second.log", site.url("/slack"))
    try:
        gate.wait_requested()  # one run is polling, holding the lock; the other must wait
        time.sleep(8)
        gate.opened.set()
        codes = [first.wait(timeout=300), second.wait(timeout=300)]
    finally:
        gate.opened.set()
        for p in (first, second):
            if p.poll() is None:
                kill9(p)
    logs = [(tmp_path / f"{n}.log").read_text(errors="replace") for n in ("first", "second")]
    assert codes == [0, 0], logs
    assert len(gate.requests) == 2  # each run polled alpha once, one after the other
    summaries = [
        json.loads(s) if isinstance(s, str) else s
        for (s,) in rows(db_url, "SELECT summary FROM run WHERE monitor = 'crash-test' ORDER BY id")
    ]
    assert len(summaries) == 2
    assert summaries[1]["lock_wait_seconds"] >= 3, summaries  # the second waited for the first
    assert [s["new_articles"] for s in summaries] == [4, 0]
    assert_everything_stored_and_sent(db_url)
    assert slack_kinds(sink) == Counter(development=1)


#: how the test knows the killed run is at the stage: a gated URL requested, the extract task
#: RUNNING in the Prefect API, or (processing) some of the pass's articles stored and not all:
#: the pass processes CHUNK articles at a time while it extracts the rest
STAGES = ["polling", "extraction", "processing", "delivery"]
BULK = 40  # more articles, so that extraction and processing last long enough to be caught
CHUNK = 4


def wait_partly_stored(db_url: str, total: int, timeout: float = 240) -> int:
    """Wait until some but not all of the pass's `total` articles are stored; their count."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            (n,) = rows(db_url, "SELECT count(*) FROM article")[0]
        except Exception:  # the run has not migrated the new database yet
            n = 0
        if 0 < n < total:
            return int(n)
        time.sleep(0.05)
    raise AssertionError(f"never caught the run with some of its {total} articles stored")


@pytest.mark.parametrize("stage", STAGES)
def test_run_killed_mid_pass_is_noticed_and_the_next_run_loses_nothing(
    prefect_server: PrefectServer,
    site: LocalHTTPServer,
    tmp_path: Path,
    db_url: str,
    stage: str,
) -> None:
    feeds = setup_site(site)
    bulk = stage in ("extraction", "processing")
    if bulk:
        feeds["gamma"] = bulk_feed(site, BULK)
    sink = slack_sink(site, "/slack")
    slack_ok = Response(200, b"ok", content_type="text/plain")
    gate = Gate(slack_ok if stage == "delivery" else site.routes["/alpha.xml"])
    if stage == "polling":
        site.route("/alpha.xml", gate)
    else:
        site.route("/slack-first", gate)
    monitor = write_monitor(tmp_path, feeds, db_url, CHUNK if stage == "processing" else None)
    # at delivery, the killed run's Slack post hangs until it is killed
    first_slack = site.url("/slack-first" if stage == "delivery" else "/slack")

    killed = start_run(prefect_server, monitor, tmp_path / "killed.log", first_slack)
    try:
        if stage in ("polling", "delivery"):
            gate.wait_requested()
        elif stage == "extraction":
            wait_task_running(prefect_server, db_url, "extract")
        else:
            wait_partly_stored(db_url, 4 + BULK)
        stored_at_kill = len(rows(db_url, "SELECT id FROM article"))
    finally:
        kill9(killed)
    gate.opened.set()
    ((flow_run_id,),) = rows(db_url, "SELECT flow_run_id FROM run WHERE monitor = 'crash-test'")
    if stage != "delivery":
        assert stored_at_kill < (4 + BULK if bulk else 4)  # killed before everything was stored

    proc = subprocess.run(
        [str(BIN / "newsmon"), "run", "--monitor", str(monitor)],
        cwd=str(REPO),
        env=prefect_server.subprocess_env(NEWSMON_TEST_SLACK_URL=site.url("/slack")),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert proc.returncode == 0, describe(proc)
    assert f"CRASHED RUN        run 1 (flow run {flow_run_id}" in proc.stdout, describe(proc)
    runs = rows(db_url, "SELECT id, summary FROM run WHERE monitor = 'crash-test' ORDER BY id")
    first = runs[0][1] if isinstance(runs[0][1], dict) else json.loads(runs[0][1])
    assert first["status"] == "crashed"
    assert flow_run_state(prefect_server, flow_run_id) == "CRASHED"
    owed = assert_everything_stored_and_sent(db_url, 4 + BULK if bulk else 4)
    operator = rows(
        db_url, "SELECT channel, status FROM alert WHERE kind = 'run_failed' ORDER BY channel"
    )
    assert operator == [("outbox", "sent"), ("slack", "sent")]
    kinds = slack_kinds(sink + (gate.requests if stage == "delivery" else []))
    assert kinds["run_failed"] == 1
    # each owed development alert reached Slack; at most one twice (the one in flight)
    assert owed <= kinds["development"] <= owed + 1, (kinds, owed)
    if stage != "delivery":
        assert kinds["development"] == owed
