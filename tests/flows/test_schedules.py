"""Schedules that fire: a real Prefect server's scheduler creates the runs and they complete.

One Prefect server (on PostgreSQL: on SQLite the server itself logs `database is locked`
tracebacks for worker heartbeats when the machine is busy) for the module:

* a deployment on a process work pool with an interval schedule seconds apart and a real
  `prefect worker` process: the scheduler (not the test) creates the runs, and they complete;
* `newsmon serve --cron '* * * * *'` runs its monitor on that cron, refuses a monitor that a
  deployment already schedules, and on SIGTERM stops cleanly, pausing only its own schedule;
* the server log holds no traceback.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.scaleout_demo_setup import MonitorSpec, write_monitor
from scripts.schedule_soak import (
    create_pool,
    create_scheduled_deployment,
    read_runs,
    report,
    server_tracebacks,
    soak_on,
)
from tests.conftest import POSTGRES_ADMIN_URL, require_postgres
from tests.flows.prefect_server import (
    BIN,
    REPO,
    PrefectServer,
    client_settings,
    database_url,
    describe,
    fresh_postgres_database,
    run_cli,
)
from tests.support.httpserver import LocalHTTPServer
from tests.support.newsfixture import serve_feed, serve_sample

# the server, a worker and the flow-run subprocesses start slowly on a busy 2-core machine
pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.timeout(900)]

ARRIVES = ("guardian", "686b5362458d")  # Kim arrives in Russia to meet Putin
UNRELATED = ("guardian", "0952f64a7765")  # UK ticket resellers: out of scope


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    """A Prefect server on a fresh PostgreSQL database, for this module."""
    require_postgres()
    with fresh_postgres_database(POSTGRES_ADMIN_URL, "prefect_sched") as name:
        url = database_url(POSTGRES_ADMIN_URL, name, driver="asyncpg")
        home = tmp_path_factory.mktemp("prefect-sched")
        with PrefectServer(home, database_url=url) as srv:
            yield srv
            assert server_tracebacks(srv) == [], srv.log_tail()


def small_feeds(site: LocalHTTPServer) -> dict[str, str]:
    """One feed with a new development and an out-of-scope story."""
    entries = [serve_sample(site, *ARRIVES), serve_sample(site, *UNRELATED)]
    return {"world": serve_feed(site, "/world.xml", entries)}


def test_schedule_seconds_apart_creates_runs_that_complete(
    server: PrefectServer, site: LocalHTTPServer, tmp_path: Path
) -> None:
    result = soak_on(server, small_feeds(site), folder=tmp_path, runs=2, interval=20, timeout=240)
    print(report(result))
    assert len(result.runs) == 2
    assert all(r.auto_scheduled for r in result.runs), report(result)
    assert [r.state for r in result.runs] == ["COMPLETED", "COMPLETED"], report(result)
    assert result.check() == [], report(result)


async def deployment_by_name(server: PrefectServer, name: str) -> object:
    """The deployment `newsmon-monitor/<name>`."""
    from prefect.client.orchestration import get_client

    with client_settings(server):
        async with get_client() as client:
            return await client.read_deployment_by_name(f"newsmon-monitor/{name}")


def wait_completed_run(server: PrefectServer, deployment_id: object, timeout: float) -> None:
    """Wait for a COMPLETED run of the deployment made by the scheduler."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = asyncio.run(read_runs(server, deployment_id))
        if any(r.auto_scheduled and r.state == "COMPLETED" for r in runs):
            return
        bad = [r for r in runs if r.state in ("FAILED", "CRASHED")]
        assert not bad, f"served run ended {bad[0].state_name}"
        time.sleep(2)
    raise AssertionError(f"no completed scheduled run in {timeout:.0f} s: {runs}")


def test_serve_runs_on_its_cron_beside_a_deployment_and_stops_cleanly(
    server: PrefectServer, site: LocalHTTPServer, tmp_path: Path
) -> None:
    feeds = small_feeds(site)
    db = f"sqlite:///{tmp_path / 'newsmon.db'}"
    deployed = write_monitor(MonitorSpec("deployed", feeds), tmp_path, db)
    served = write_monitor(MonitorSpec("served", feeds), tmp_path, db)
    asyncio.run(create_pool(server, "sched-pool"))
    asyncio.run(
        create_scheduled_deployment(
            server, name="deployed", monitor=deployed, pool="sched-pool", cron="*/30 * * * *"
        )
    )
    before = asyncio.run(deployment_by_name(server, "deployed"))
    env = server.subprocess_env(NEWSMON_DATA_DIR=str(tmp_path / "data"))

    # a monitor a deployment already schedules: serve refuses and changes nothing
    refused = run_cli([str(BIN / "newsmon"), "serve", "--monitor", str(deployed)], env)
    assert refused.returncode == 1, describe(refused)
    assert "already scheduled by the deployment newsmon-monitor/deployed" in refused.stderr

    # another monitor: served under its own name, on its cron
    with (tmp_path / "serve.log").open("wb") as log:
        proc = subprocess.Popen(
            [str(BIN / "newsmon"), "serve", "--monitor", str(served), "--cron", "* * * * *"],
            cwd=str(REPO),
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                own = asyncio.run(deployment_by_name(server, "served-serve"))
                break
            except Exception:
                assert proc.poll() is None and time.monotonic() < deadline, (
                    tmp_path / "serve.log"
                ).read_text()
                time.sleep(1)
        wait_completed_run(server, own.id, timeout=150)  # type: ignore[attr-defined]
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    output = (tmp_path / "serve.log").read_text(errors="replace")
    assert code == 0, output
    assert "never awaited" not in output and "Traceback" not in output, output

    after = asyncio.run(deployment_by_name(server, "deployed"))
    own = asyncio.run(deployment_by_name(server, "served-serve"))
    assert own.id != after.id  # type: ignore[attr-defined]
    assert own.paused is True  # type: ignore[attr-defined]  # serve pauses what it created
    # ...and nothing else: the deployment keeps its pool, limit and active schedule
    for field in ("id", "paused", "work_pool_name", "schedules", "parameters", "tags"):
        assert getattr(after, field) == getattr(before, field), field
    assert after.paused is False  # type: ignore[attr-defined]
    assert after.global_concurrency_limit.limit == 1  # type: ignore[attr-defined]
