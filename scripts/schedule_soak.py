"""Scheduled runs, unattended: does the Prefect scheduler create runs, and do they complete?

    .venv/bin/python -m scripts.schedule_soak [--runs 10] [--cron '* * * * *'] [--keep]
    .venv/bin/python -m scripts.schedule_soak --runs 3 --interval 15

What it does, all on this machine with real parts:

1. serves the bundled sample feeds (`samples/`) on a free port;
2. starts a Prefect server (own home, free port; on a fresh PostgreSQL database when
   PostgreSQL answers, as recommended for a server with workers, else `--sqlite`) and a
   process work pool;
3. creates one deployment of the newsmon flow on that pool with the schedule asked for
   (default: cron `* * * * *`, every minute), newsmon's storage in a SQLite file;
4. starts one `prefect worker start --pool ...` process and touches nothing else;
5. waits until the scheduler has created `--runs` runs and each is final, then prints them
   (scheduled time, state, who created them) and the tracebacks found in the server log.

It exits 1 unless every run was created by the scheduler (`auto_scheduled`) and Completed and
the server log holds no traceback. `tests/flows/test_schedules.py` runs the same code with a
seconds-apart interval on a small local site.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import re
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scripts.scaleout_demo_setup import (
    POSTGRES_ADMIN_URL,
    SAMPLE_FEEDS,
    MonitorSpec,
    postgres_available,
    sample_site,
    stop_process,
    write_monitor,
)
from tests.flows.prefect_server import (
    BIN,
    REPO,
    PrefectServer,
    client_settings,
    database_url,
    fresh_postgres_database,
)

POOL = "newsmon-soak"
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
TRACEBACK = re.compile(r"^Traceback \(most recent call last\)|^\S*(Error|Exception): ", re.M)


@dataclass
class ScheduledRun:
    """One flow run of the deployment as the Prefect API reports it."""

    name: str
    scheduled: dt.datetime | None
    state: str
    state_name: str
    auto_scheduled: bool
    seconds: float | None


@dataclass
class SoakResult:
    """What the soak observed."""

    runs: list[ScheduledRun]
    schedule: str
    tracebacks: list[str]
    wall_seconds: float
    problems: list[str] = field(default_factory=list)

    def check(self) -> list[str]:
        """What is wrong (empty when every run was scheduled and completed cleanly)."""
        out = [f"run {r.name} ended {r.state_name}" for r in self.runs if r.state != "COMPLETED"]
        out += [
            f"run {r.name} was not made by the scheduler" for r in self.runs if not r.auto_scheduled
        ]
        out += [f"server log: {t}" for t in self.tracebacks]
        return out + self.problems


def server_tracebacks(server: PrefectServer) -> list[str]:
    """Lines of the server log that start a traceback or name an exception."""
    text = server.log_path.read_text(encoding="utf-8", errors="replace")
    return [m.group(0) + text[m.end() : text.find("\n", m.end())] for m in TRACEBACK.finditer(text)]


def start_worker_on(
    server: PrefectServer, pool: str, name: str, folder: Path
) -> subprocess.Popen[bytes]:
    """`prefect worker start --pool POOL --name NAME` in its own process group (log in folder)."""
    env = server.subprocess_env(
        PREFECT_WORKER_QUERY_SECONDS="2",
        PREFECT_WORKER_PREFETCH_SECONDS="5",
        NEWSMON_DATA_DIR=str(folder / "data"),
    )
    cmd = [str(BIN / "prefect"), "worker", "start", "--pool", pool, "--name", name]
    cmd += ["--type", "process"]
    with (folder / f"{name}.log").open("wb") as log:
        return subprocess.Popen(
            cmd,
            cwd=str(REPO),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


async def create_pool(server: PrefectServer, pool: str) -> None:
    """A process work pool named `pool` (kept when it exists)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists

    with client_settings(server):
        async with get_client() as client:
            with suppress(ObjectAlreadyExists):
                await client.create_work_pool(WorkPoolCreate(name=pool, type="process"))


async def create_scheduled_deployment(
    server: PrefectServer,
    *,
    name: str,
    monitor: Path,
    pool: str,
    cron: str | None = None,
    interval: float | None = None,
    tags: list[str] | None = None,
) -> Any:
    """A deployment of the newsmon flow on `pool` with one active schedule; returns its id."""
    from prefect.client.schemas.objects import ConcurrencyLimitConfig

    from flows.monitor_flow import monitor_flow

    with client_settings(server):
        dep = await monitor_flow.ato_deployment(
            name=name,
            cron=cron,
            interval=dt.timedelta(seconds=interval) if interval else None,
            parameters={"monitor": str(monitor)},
            tags=tags or ["newsmon", name],
            concurrency_limit=ConcurrencyLimitConfig(limit=1, collision_strategy="ENQUEUE"),
            job_variables={"working_dir": str(REPO)},
        )
        return await dep.aapply(work_pool_name=pool)


async def read_runs(server: PrefectServer, deployment_id: Any) -> list[ScheduledRun]:
    """Every flow run of the deployment, in scheduled order."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
    from prefect.client.schemas.sorting import FlowRunSort

    with client_settings(server):
        async with get_client() as client:
            runs = await client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])),
                sort=FlowRunSort.EXPECTED_START_TIME_ASC,
                limit=200,
            )
    return [
        ScheduledRun(
            name=r.name,
            scheduled=r.expected_start_time,
            state=r.state_type.value if r.state_type else "?",
            state_name=r.state_name or "?",
            auto_scheduled=bool(r.auto_scheduled),
            seconds=r.total_run_time.total_seconds() if r.total_run_time else None,
        )
        for r in runs
    ]


async def pause_schedules(server: PrefectServer, deployment_id: Any) -> None:
    """Turn the deployment's schedules off (so nothing runs once the soak is over)."""
    from prefect.client.orchestration import get_client

    with client_settings(server):
        async with get_client() as client:
            await client.pause_deployment(deployment_id)


def wait_for_runs(
    server: PrefectServer, deployment_id: Any, runs: int, timeout: float, log: Any = print
) -> list[ScheduledRun]:
    """Wait until `runs` runs of the deployment are final; returns those, in scheduled order."""
    deadline = time.monotonic() + timeout
    seen = -1
    while True:
        all_runs = asyncio.run(read_runs(server, deployment_id))
        started = [r for r in all_runs if r.state not in ("SCHEDULED", "PENDING")]
        done = [r for r in all_runs if r.state in FINAL]
        if len(done) != seen:
            seen = len(done)
            log(f"  {len(all_runs)} run(s) created, {len(started)} started, {seen} final")
        if len(done) >= runs:
            return done[:runs]
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"after {timeout:.0f} s: {len(all_runs)} run(s) created, {seen} of {runs} final"
            )
        time.sleep(2)


def soak_on(
    server: PrefectServer,
    feeds: dict[str, str],
    *,
    folder: Path,
    runs: int,
    cron: str | None = None,
    interval: float | None = None,
    timeout: float = 900.0,
    log: Any = print,
) -> SoakResult:
    """Deploy a monitor of `feeds` on `server` with the schedule, start a worker, wait for runs."""
    started = time.monotonic()
    schedule = f"cron {cron!r}" if cron else f"every {interval} s"
    spec = MonitorSpec(name="soak", feeds=feeds)
    monitor = write_monitor(spec, folder, f"sqlite:///{folder / 'newsmon.db'}")
    asyncio.run(create_pool(server, POOL))
    worker = start_worker_on(server, POOL, "soak-worker", folder)
    try:
        dep_id = asyncio.run(
            create_scheduled_deployment(
                server, name="soak", monitor=monitor, pool=POOL, cron=cron, interval=interval
            )
        )
        log(f"deployment newsmon-monitor/soak on pool {POOL}, {schedule}; waiting for {runs} runs")
        try:
            done = wait_for_runs(server, dep_id, runs, timeout, log=log)
        finally:
            asyncio.run(pause_schedules(server, dep_id))
    finally:
        stop_process(worker)
    return SoakResult(
        runs=done,
        schedule=schedule,
        tracebacks=server_tracebacks(server),
        wall_seconds=time.monotonic() - started,
    )


def run_soak(
    feeds: dict[str, str],
    *,
    folder: Path,
    runs: int,
    cron: str | None = None,
    interval: float | None = None,
    timeout: float = 900.0,
    admin_url: str | None = None,
    log: Any = print,
) -> SoakResult:
    """The whole soak on `feeds` (must be reachable) with its own server; what it observed.

    With `admin_url` (a PostgreSQL URL) the Prefect server runs on a fresh PostgreSQL database,
    else on SQLite in its home.
    """
    started = time.monotonic()
    with ExitStack() as stack:
        prefect_url = None
        if admin_url:
            name = stack.enter_context(fresh_postgres_database(admin_url, "prefect_soak"))
            prefect_url = database_url(admin_url, name, driver="asyncpg")
        server = stack.enter_context(PrefectServer(folder / "prefect", database_url=prefect_url))
        where = "PostgreSQL" if prefect_url else "SQLite"
        log(f"prefect server on {where}: {server.ui_url} ({time.monotonic() - started:.1f} s)")
        result = soak_on(
            server,
            feeds,
            folder=folder,
            runs=runs,
            cron=cron,
            interval=interval,
            timeout=timeout,
            log=log,
        )
        result.wall_seconds = time.monotonic() - started
        return result


def report(result: SoakResult) -> str:
    """The human table of runs and the checks."""
    lines = [f"schedule: {result.schedule}"]
    lines.append(f"{'flow run':<24} {'scheduled (UTC)':<20} {'state':<10} auto  secs")
    for r in result.runs:
        when = r.scheduled.strftime("%Y-%m-%d %H:%M:%S") if r.scheduled else "-"
        lines.append(
            f"{r.name:<24} {when:<20} {r.state_name:<10} {'yes' if r.auto_scheduled else 'NO':<5}"
            f" {r.seconds or 0:5.1f}"
        )
    completed = sum(r.state == "COMPLETED" for r in result.runs)
    lines.append(
        f"completed: {completed} of {len(result.runs)}; created by the scheduler: "
        f"{sum(r.auto_scheduled for r in result.runs)}"
    )
    lines.append(f"tracebacks in the server log: {len(result.tracebacks)}")
    lines += [f"  {t}" for t in result.tracebacks[:10]]
    lines.append(f"wall {result.wall_seconds:.1f} s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the soak on the bundled sample feeds; exit 1 when a check fails."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--runs", type=int, default=10, help="scheduled runs to wait for")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--cron", default=None, help="cron schedule (default '* * * * *')")
    group.add_argument("--interval", type=float, default=None, help="interval in seconds")
    p.add_argument("--keep", action="store_true", help="keep the temp folder (logs)")
    p.add_argument(
        "--sqlite", action="store_true", help="Prefect server on SQLite even if PostgreSQL answers"
    )
    args = p.parse_args(argv)
    admin_url = None if args.sqlite or not postgres_available() else POSTGRES_ADMIN_URL
    cron = args.cron or (None if args.interval else "* * * * *")
    folder = Path(tempfile.mkdtemp(prefix="newsmon-soak-"))
    try:
        with sample_site() as base:
            feeds = {f: f"{base}/feeds/{f}.xml" for f in SAMPLE_FEEDS}
            budget = 300 + args.runs * (60 if cron else (args.interval or 0) + 60)
            result = run_soak(
                feeds,
                folder=folder,
                runs=args.runs,
                cron=cron,
                interval=args.interval,
                timeout=budget,
                admin_url=admin_url,
            )
    finally:
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    print(report(result))
    problems = result.check()
    for problem in problems:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
