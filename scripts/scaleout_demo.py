"""Scale-out demo: two Prefect workers share the runs of several newsmon deployments.

    .venv/bin/python -m scripts.scaleout_demo [--runs 3] [--workers 2] [--keep]

What it does, all on this machine with real parts:

1. serves the bundled sample feeds (`samples/`) on a free port;
2. starts a Prefect server on a free port, on a fresh PostgreSQL database when PostgreSQL
   answers (`$NEWSMON_TEST_POSTGRES_URL`, default `postgresql+psycopg://postgres@127.0.0.1:5432/test`),
   else on SQLite;
3. creates a fresh PostgreSQL database shared by every run (newsmon's storage; required);
4. creates a process work pool and two deployments, one per monitor, each monitor on half of the
   sample feeds, each with a concurrency limit of 1 (ENQUEUE), as in `prefect.yaml`;
5. starts `--workers` `prefect worker start --pool ... --limit 1` processes;
6. triggers `--runs` runs of each deployment at once, waits for all of them to finish;
7. prints each run (deployment, worker, state, new articles) and checks: every run COMPLETED,
   every worker took runs, no duplicate article (monitor, url) and no duplicate alert
   (monitor, channel, kind, dedup_key) in the shared database.

Everything it starts is stopped and the databases dropped at the end (`--keep` keeps the temp
folder with the logs). `tests/flows/test_scaleout.py` runs the same code on a small site.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from scripts.scaleout_demo_setup import (
    POOL,
    POSTGRES_ADMIN_URL,
    MonitorSpec,
    postgres_available,
    sample_monitors,
    sample_site,
    start_worker,
    stop_process,
    write_monitor,
)
from tests.flows.prefect_server import (
    REPO,
    PrefectServer,
    client_settings,
    database_url,
    fresh_postgres_database,
)

FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


@dataclass
class RunRow:
    """One flow run as the Prefect API and newsmon's database saw it."""

    deployment: str
    flow_run: str
    worker: str
    state: str
    new_articles: int | None
    seconds: float | None


@dataclass
class ScaleoutResult:
    """What the demo observed."""

    runs: list[RunRow]
    workers: list[str]
    articles: dict[str, int]
    alerts: dict[str, int]
    duplicate_articles: list[tuple[Any, ...]]
    duplicate_alerts: list[tuple[Any, ...]]
    prefect_database: str
    wall_seconds: float
    problems: list[str] = field(default_factory=list)

    def check(self) -> list[str]:
        """What is wrong (empty when the demo shows what it should)."""
        out = [f"run {r.flow_run} ({r.deployment}) ended {r.state}" for r in self.runs]
        out = [p for p, r in zip(out, self.runs, strict=True) if r.state != "COMPLETED"]
        used = {r.worker for r in self.runs}
        out += [f"worker {w} took no run" for w in self.workers if w not in used]
        out += [f"duplicate article {d}" for d in self.duplicate_articles]
        out += [f"duplicate alert {d}" for d in self.duplicate_alerts]
        out += [f"monitor {m} stored no article" for m, n in self.articles.items() if n == 0]
        return out + self.problems


async def create_pool_and_deployments(
    server: PrefectServer, monitors: dict[str, Path]
) -> dict[str, str]:
    """A process work pool and one deployment per monitor file (limit 1, ENQUEUE)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.client.schemas.objects import ConcurrencyLimitConfig
    from prefect.exceptions import ObjectAlreadyExists

    from flows.monitor_flow import monitor_flow

    with client_settings(server):
        async with get_client() as client:
            with suppress(ObjectAlreadyExists):
                await client.create_work_pool(WorkPoolCreate(name=POOL, type="process"))
        names = {}
        for name, path in monitors.items():
            dep = await monitor_flow.ato_deployment(
                name=name,
                parameters={"monitor": str(path)},
                tags=["newsmon", name, "scaleout"],
                concurrency_limit=ConcurrencyLimitConfig(limit=1, collision_strategy="ENQUEUE"),
                job_variables={"working_dir": str(REPO)},
            )
            await dep.aapply(work_pool_name=POOL)
            names[name] = f"{monitor_flow.name}/{name}"
    return names


async def wait_workers_online(server: PrefectServer, names: list[str], timeout: float) -> None:
    """Wait until every named worker has sent a heartbeat to the pool."""
    from prefect.client.orchestration import get_client

    deadline = time.monotonic() + timeout
    with client_settings(server):
        async with get_client() as client:
            while True:
                workers = await client.read_workers_for_work_pool(POOL, limit=50, offset=0)
                online = {w.name for w in workers if str(w.status).endswith("ONLINE")}
                if set(names) <= online:
                    return
                if time.monotonic() > deadline:
                    raise TimeoutError(f"workers online: {sorted(online)}, wanted {names}")
                await asyncio.sleep(1)


async def trigger_and_wait(
    server: PrefectServer, deployments: dict[str, str], runs: int, timeout: float
) -> dict[str, tuple[str, Any]]:
    """Create `runs` runs of each deployment at once; wait until all are final."""
    from prefect.client.orchestration import get_client
    from prefect.deployments.flow_runs import arun_deployment

    created: dict[str, str] = {}
    with client_settings(server):
        for _ in range(runs):
            for short, full in deployments.items():
                fr = await arun_deployment(full, timeout=0)
                created[str(fr.id)] = short
        deadline = time.monotonic() + timeout
        async with get_client() as client:
            while True:
                result = {
                    rid: (dep, await client.read_flow_run(uuid.UUID(rid)))
                    for rid, dep in created.items()
                }
                states = [
                    fr.state_type.value if fr.state_type else "?" for _, fr in result.values()
                ]
                if all(s in FINAL for s in states):
                    return result
                if time.monotonic() > deadline:
                    raise TimeoutError(f"runs not finished after {timeout:.0f} s: {states}")
                await asyncio.sleep(2)


def read_newsmon_db(url: str) -> tuple[dict[str, Any], dict[str, int], dict[str, int], list, list]:
    """Per-run summaries, article and alert counts per monitor, and any duplicate keys."""
    eng = create_engine(url)
    with eng.connect() as conn:
        summaries = {
            r[0]: r[1] for r in conn.execute(text("SELECT flow_run_id, summary FROM run")) if r[0]
        }
        articles: dict[str, int] = {
            str(m): int(n)
            for m, n in conn.execute(text("SELECT monitor, count(*) FROM article GROUP BY 1"))
        }
        alerts: dict[str, int] = {
            str(m): int(n)
            for m, n in conn.execute(text("SELECT monitor, count(*) FROM alert GROUP BY 1"))
        }
        dup_articles = [
            tuple(r)
            for r in conn.execute(
                text("SELECT monitor, url, count(*) FROM article GROUP BY 1, 2 HAVING count(*) > 1")
            )
        ]
        dup_alerts = [
            tuple(r)
            for r in conn.execute(
                text(
                    "SELECT monitor, channel, kind, dedup_key, count(*) FROM alert "
                    "GROUP BY 1, 2, 3, 4 HAVING count(*) > 1"
                )
            )
        ]
    eng.dispose()
    return summaries, articles, alerts, dup_articles, dup_alerts


def run_scaleout(
    monitors: list[MonitorSpec],
    *,
    folder: Path,
    runs: int = 3,
    workers: int = 2,
    timeout: float = 900.0,
    admin_url: str = POSTGRES_ADMIN_URL,
    log: Any = print,
) -> ScaleoutResult:
    """The whole demo on `monitors` (feeds must be reachable); returns what it observed."""
    started = time.monotonic()
    pg_server = postgres_available(admin_url)
    with ExitStack() as stack:
        newsmon_db = stack.enter_context(fresh_postgres_database(admin_url, "newsmon_scale"))
        newsmon_url = database_url(admin_url, newsmon_db)
        prefect_url = None
        if pg_server:
            prefect_db = stack.enter_context(fresh_postgres_database(admin_url, "prefect_scale"))
            prefect_url = database_url(admin_url, prefect_db, driver="asyncpg")
        log(f"prefect server database: {prefect_url or 'SQLite'}; newsmon: {newsmon_url}")
        server = stack.enter_context(PrefectServer(folder / "prefect", database_url=prefect_url))
        log(f"prefect server: {server.ui_url} ({time.monotonic() - started:.1f} s)")
        # Migrate the shared database once, before any worker runs: two first runs migrating
        # an empty PostgreSQL database at the same moment collide on CREATE TABLE
        # alembic_version (seen here; storage.db.migrate takes no lock yet).
        from storage.db import dispose_engines, get_engine

        get_engine(newsmon_url)
        dispose_engines()
        files = {m.name: write_monitor(m, folder, newsmon_url) for m in monitors}
        names = [f"worker-{i + 1}" for i in range(workers)]
        for name in names:  # workers start while the deployments are created
            proc = start_worker(server, name, folder)
            stack.callback(stop_process, proc)
        deployments = asyncio.run(create_pool_and_deployments(server, files))
        log(f"deployments: {', '.join(deployments.values())} on pool {POOL}")
        asyncio.run(wait_workers_online(server, names, timeout=120))
        log(f"workers online: {', '.join(names)} ({time.monotonic() - started:.1f} s)")
        t0 = time.monotonic()
        finished = asyncio.run(trigger_and_wait(server, deployments, runs, timeout))
        log(f"{len(finished)} runs finished in {time.monotonic() - t0:.1f} s")
        summaries, articles, alerts, dup_art, dup_alert = read_newsmon_db(newsmon_url)
        rows = []
        for rid, (dep, fr) in finished.items():
            summary = summaries.get(rid) or {}
            rows.append(
                RunRow(
                    deployment=dep,
                    flow_run=fr.name,
                    worker=str((fr.labels or {}).get("prefect.worker.name", "?")),
                    state=fr.state_type.value if fr.state_type else "?",
                    new_articles=summary.get("new_articles"),
                    seconds=fr.total_run_time.total_seconds() if fr.total_run_time else None,
                )
            )
        rows.sort(key=lambda r: (r.deployment, r.flow_run))
        return ScaleoutResult(
            runs=rows,
            workers=names,
            articles={m.name: int(articles.get(m.name, 0)) for m in monitors},
            alerts={m.name: int(alerts.get(m.name, 0)) for m in monitors},
            duplicate_articles=dup_art,
            duplicate_alerts=dup_alert,
            prefect_database="PostgreSQL" if prefect_url else "SQLite",
            wall_seconds=time.monotonic() - started,
        )


def report(result: ScaleoutResult) -> str:
    """The human table of runs and the checks."""
    lines = [f"{'deployment':<10} {'flow run':<32} {'worker':<10} {'state':<10} new  secs"]
    for r in result.runs:
        lines.append(
            f"{r.deployment:<10} {r.flow_run:<32} {r.worker:<10} {r.state:<10} "
            f"{r.new_articles if r.new_articles is not None else '-':>4} "
            f"{r.seconds if r.seconds is not None else 0:5.1f}"
        )
    per_worker = {w: sum(r.worker == w for r in result.runs) for w in result.workers}
    lines.append(f"runs per worker: {per_worker}")
    lines.append(f"articles per monitor: {result.articles}; alerts: {result.alerts}")
    lines.append(
        f"duplicate articles (monitor, url): {len(result.duplicate_articles)}; "
        f"duplicate alerts (monitor, channel, kind, dedup_key): {len(result.duplicate_alerts)}"
    )
    lines.append(f"prefect server on {result.prefect_database}; wall {result.wall_seconds:.1f} s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the demo on the bundled sample feeds; exit 1 when a check fails."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--runs", type=int, default=3, help="runs triggered per deployment")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--keep", action="store_true", help="keep the temp folder (logs)")
    args = p.parse_args(argv)
    if not postgres_available():
        print(
            f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}: the shared newsmon database "
            "needs it",
            file=sys.stderr,
        )
        return 2
    folder = Path(tempfile.mkdtemp(prefix="newsmon-scaleout-"))
    try:
        with sample_site() as base:
            result = run_scaleout(
                sample_monitors(base), folder=folder, runs=args.runs, workers=args.workers
            )
    finally:
        if args.keep:
            print(f"logs kept in {folder}")
        else:
            import shutil

            shutil.rmtree(folder, ignore_errors=True)
    print(report(result))
    problems = result.check()
    for problem in problems:
        print(f"CHECK FAILED: {problem}")
    print("all checks passed" if not problems else f"{len(problems)} check(s) failed")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
