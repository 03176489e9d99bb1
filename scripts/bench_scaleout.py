"""One monitor on two workers: its feeds split into shards, measured against one process.

    .venv/bin/python -m scripts.bench_scaleout [--quick] [--shards 2] [--delay-ms 0] [--keep]

Real parts on this machine: a Prefect server on a fresh PostgreSQL database, a process work
pool, `--shards` `prefect worker start --limit 1` processes, and the bundled sample feeds
(6 feeds, 711 entries; `--quick`: the first 2 feeds), each feed served from its own loopback
address (127.0.0.2, 127.0.0.3, ...) as real feeds come from different hosts: the fetcher's
per-host politeness limit is then the same for one process as for the shards together.
`--delay-ms` adds that much latency to every request of the site (real sites are not local).

(a) one deployment of the monitor, unsharded: one run (taken by one of the workers);
(b) one deployment per shard (`shard: "1/2"`, `"2/2"`), one run of each triggered at once.

Each on a fresh newsmon PostgreSQL database. Prints the wall time from the trigger to the end
of the last run, each run's stage times (from its Prefect task runs), the speed-up (a)/(b), and
compares what was stored: the set of article URLs and the alerts, each alert by its channel,
kind and the article URLs of its development. Exits 1 when they differ or a run failed.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import create_engine, text

from scripts.scaleout_demo import FINAL, wait_workers_online
from scripts.scaleout_demo_setup import (
    POOL,
    POSTGRES_ADMIN_URL,
    SAMPLE_FEEDS,
    MonitorSpec,
    postgres_available,
    start_worker,
    stop_process,
)
from tests.flows.prefect_server import (
    REPO,
    PrefectServer,
    client_settings,
    database_url,
    fresh_postgres_database,
)

#: Stages timed per run: task-run names of `flows.monitor_flow` ("poll": first start to last end).
STAGES = ("prepare", "poll", "extract", "stage", "barrier", "process", "feed health", "deliver")


@dataclass
class RunTiming:
    """One flow run of a phase: where it ran, how it ended, how long its stages took."""

    deployment: str
    worker: str
    state: str
    seconds: float
    stages: dict[str, float]
    new_articles: int | None
    lock_wait: float | None
    #: candidates the run staged for its shard round (None: unsharded)
    staged: int | None = None


@dataclass
class Outcome:
    """What a phase stored: article URLs and alerts (by what they are about)."""

    articles: frozenset[str]
    alerts: Counter[tuple[str, ...]]
    developments: Counter[tuple[str, ...]]

    def differences(self, other: Outcome) -> list[str]:
        """What `other` stored differently (empty when the same)."""
        out = []
        if self.articles != other.articles:
            out.append(
                f"articles differ: {len(self.articles - other.articles)} only in (a), "
                f"{len(other.articles - self.articles)} only in (b)"
            )
        if self.alerts != other.alerts:
            only_a, only_b = self.alerts - other.alerts, other.alerts - self.alerts
            out.append(
                f"alerts differ: {sum(only_a.values())} only in (a) {sorted(only_a)[:3]}, "
                f"{sum(only_b.values())} only in (b) {sorted(only_b)[:3]}"
            )
        return out


@dataclass
class Phase:
    """One measured configuration: its runs, wall time and what it stored."""

    label: str
    wall_seconds: float
    runs: list[RunTiming]
    outcome: Outcome


@dataclass
class ShardComparison:
    """(a) the monitor in one run, (b) the same monitor as shards on several workers."""

    whole: Phase
    sharded: Phase
    extra: list[str] = field(default_factory=list)

    @property
    def speedup(self) -> float:
        """Wall time of (a) over wall time of (b)."""
        return self.whole.wall_seconds / max(self.sharded.wall_seconds, 1e-9)

    def problems(self) -> list[str]:
        """What is wrong: a run not COMPLETED, shards on one worker, different outcomes."""
        runs = self.whole.runs + self.sharded.runs
        out = [f"run {r.deployment} ended {r.state}" for r in runs if r.state != "COMPLETED"]
        if len({r.worker for r in self.sharded.runs}) < len(self.sharded.runs):
            out.append("the shards did not run on different workers")
        if not self.whole.outcome.articles:
            out.append("(a) stored no article")
        return out + self.whole.outcome.differences(self.sharded.outcome) + self.extra


def write_monitor(name: str, feeds: dict[str, str], folder: Path, db_url: str) -> Path:
    """A monitor file storing into `db_url`, fetching from any loopback address."""
    path = folder / f"{name}-{uuid.uuid4().hex[:6]}.yaml"
    data = {
        "name": name,
        "seeds": str(REPO / "seeds"),
        "database_url": db_url,
        "data_dir": str(folder / "data" / path.stem),
        "feeds": [{"name": n, "url": u} for n, u in feeds.items()],
        "channels": {"outbox": True},
        "fetch": {"allow_networks": ["127.0.0.0/8"]},
    }
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


async def create_pool(server: PrefectServer) -> None:
    """The process work pool of the workers (kept when it exists)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists

    with client_settings(server):
        async with get_client() as client:
            with suppress(ObjectAlreadyExists):
                await client.create_work_pool(WorkPoolCreate(name=POOL, type="process"))


async def deploy(server: PrefectServer, name: str, monitor: Path, shard: str | None) -> str:
    """A deployment of the monitor flow (one shard of `monitor`, if given) on the pool."""
    from flows.monitor_flow import monitor_flow

    params: dict[str, Any] = {"monitor": str(monitor), **({"shard": shard} if shard else {})}
    with client_settings(server):
        dep = await monitor_flow.ato_deployment(
            name=name, parameters=params, job_variables={"working_dir": str(REPO)}
        )
        await dep.aapply(work_pool_name=POOL)
    return f"{monitor_flow.name}/{name}"


def _span(runs: list[Any]) -> float:
    starts = [r.start_time for r in runs if r.start_time]
    ends = [r.end_time for r in runs if r.end_time]
    return (max(ends) - min(starts)).total_seconds() if starts and ends else 0.0


async def stage_times(client: Any, flow_run_id: uuid.UUID) -> dict[str, float]:
    """Seconds per stage of one flow run, from its task runs."""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    tasks = await client.read_task_runs(
        flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])), limit=200
    )
    return {s: round(_span([t for t in tasks if t.name.startswith(s)]), 1) for s in STAGES}


async def trigger_and_time(
    server: PrefectServer, deployments: dict[str, str], timeout: float
) -> tuple[float, dict[str, Any], dict[str, dict[str, float]]]:
    """Run every deployment once, all at once; (wall seconds, flow runs, their stage times)."""
    from prefect.client.orchestration import get_client
    from prefect.deployments.flow_runs import arun_deployment

    with client_settings(server):
        started = datetime.now(UTC)
        ids = {
            short: (await arun_deployment(full, timeout=0)).id
            for short, full in deployments.items()
        }
        deadline = time.monotonic() + timeout
        async with get_client() as client:
            while True:
                runs = {s: await client.read_flow_run(i) for s, i in ids.items()}
                if all(r.state_type and r.state_type.value in FINAL for r in runs.values()):
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"runs not finished after {timeout:.0f} s")
                await asyncio.sleep(0.5)
            stages = {s: await stage_times(client, r.id) for s, r in runs.items()}
    ends = [r.end_time.timestamp() for r in runs.values() if r.end_time]
    wall = max(ends) - started.timestamp() if ends else float("nan")
    return wall, runs, stages


def read_outcome(url: str) -> tuple[Outcome, dict[str, dict[str, Any]]]:
    """What a newsmon database holds, and the run summaries by flow-run id."""
    eng = create_engine(url)
    with eng.connect() as conn:
        articles = frozenset(str(r[0]) for r in conn.execute(text("SELECT url FROM article")))
        by_dev: dict[int, list[str]] = {}
        for dev, u in conn.execute(
            text("SELECT development_id, url FROM article WHERE development_id IS NOT NULL")
        ):
            by_dev.setdefault(int(dev), []).append(str(u))
        alerts: Counter[tuple[str, ...]] = Counter()
        for channel, kind, dev, key in conn.execute(
            text("SELECT channel, kind, development_id, dedup_key FROM alert")
        ):
            about = tuple(sorted(by_dev.get(int(dev), []))) if dev is not None else (str(key),)
            alerts[(str(channel), str(kind), *about)] += 1
        summaries = {
            str(r[0]): r[1] or {}
            for r in conn.execute(text("SELECT flow_run_id, summary FROM run"))
            if r[0]
        }
    eng.dispose()
    devs = Counter(tuple(sorted(v)) for v in by_dev.values())
    return Outcome(articles, alerts, devs), summaries


def run_phase(
    server: PrefectServer,
    spec: MonitorSpec,
    shards: list[str | None],
    *,
    folder: Path,
    admin_url: str,
    timeout: float,
) -> Phase:
    """The monitor on a fresh newsmon database, one deployment per entry of `shards`."""
    from storage.db import dispose_engines, get_engine

    with fresh_postgres_database(admin_url, "newsmon_shards") as db:
        url = database_url(admin_url, db)
        get_engine(url)  # migrated before the runs, as in the scale-out demo
        dispose_engines()
        monitor = write_monitor(spec.name, spec.feeds, folder, url)
        label = "unsharded" if shards == [None] else f"{len(shards)} shards"
        names = {}
        for shard in shards:
            short = f"{spec.name}-{db[-6:]}" + (f"-s{shard.replace('/', 'of')}" if shard else "")
            names[short] = asyncio.run(deploy(server, short, monitor, shard))
        wall, runs, stages = asyncio.run(trigger_and_time(server, names, timeout))
        outcome, summaries = read_outcome(url)
    rows = []
    for short, fr in sorted(runs.items()):
        summary = summaries.get(str(fr.id), {})
        rows.append(
            RunTiming(
                deployment=short,
                worker=str((fr.labels or {}).get("prefect.worker.name", "?")),
                state=fr.state_type.value if fr.state_type else "?",
                seconds=fr.total_run_time.total_seconds() if fr.total_run_time else 0.0,
                stages=stages[short],
                new_articles=summary.get("new_articles"),
                lock_wait=summary.get("lock_wait_seconds"),
                staged=summary.get("staged_candidates") if summary.get("shard") else None,
            )
        )
    return Phase(label, wall, rows, outcome)


def compare(
    spec: MonitorSpec,
    *,
    folder: Path,
    shards: int = 2,
    timeout: float = 900.0,
    admin_url: str = POSTGRES_ADMIN_URL,
    log: Any = print,
) -> ShardComparison:
    """(a) `spec` in one run, then (b) as `shards` shards on as many workers; see the module."""
    with ExitStack() as stack:
        prefect_db = stack.enter_context(fresh_postgres_database(admin_url, "prefect_shards"))
        pg = database_url(admin_url, prefect_db, driver="asyncpg")
        server = stack.enter_context(PrefectServer(folder / "prefect", database_url=pg))
        asyncio.run(create_pool(server))
        workers = [f"worker-{i + 1}" for i in range(shards)]
        for name in workers:
            stack.callback(stop_process, start_worker(server, name, folder))
        asyncio.run(wait_workers_online(server, workers, timeout=120))
        log(f"prefect server {server.ui_url} on PostgreSQL; workers online: {workers}")
        args = {"folder": folder, "admin_url": admin_url, "timeout": timeout}
        whole = run_phase(server, spec, [None], **args)  # type: ignore[arg-type]
        log(f"(a) unsharded: {whole.wall_seconds:.1f} s")
        parts: list[str | None] = [f"{k}/{shards}" for k in range(1, shards + 1)]
        sharded = run_phase(server, spec, parts, **args)  # type: ignore[arg-type]
        log(f"(b) {shards} shards: {sharded.wall_seconds:.1f} s")
    return ShardComparison(whole, sharded)


def report(cmp: ShardComparison) -> str:
    """The table of runs, the speed-up and the comparison of what was stored."""
    head = " ".join(f"{s[:8]:>8}" for s in STAGES)
    lines = [f"{'phase':<10} {'deployment':<26} {'worker':<9} {'state':<9} {'staged':>6} "
             f"{'new':>4} {'run s':>6} {'lock s':>6} {head}"]  # fmt: skip
    for phase in (cmp.whole, cmp.sharded):
        for r in phase.runs:
            stages = " ".join(f"{r.stages.get(s, 0.0):8.1f}" for s in STAGES)
            lines.append(
                f"{phase.label:<10} {r.deployment[-26:]:<26} {r.worker:<9} {r.state:<9} "
                f"{r.staged if r.staged is not None else '-':>6} "
                f"{r.new_articles if r.new_articles is not None else '-':>4} {r.seconds:6.1f} "
                f"{r.lock_wait if r.lock_wait is not None else 0:6.1f} {stages}"
            )
    a, b = cmp.whole, cmp.sharded
    same = a.outcome.developments == b.outcome.developments
    lines += [
        f"wall, trigger to last run finished: (a) {a.label} {a.wall_seconds:.1f} s, "
        f"(b) {b.label} {b.wall_seconds:.1f} s; speed-up (a)/(b) {cmp.speedup:.2f}x",
        f"articles: (a) {len(a.outcome.articles)}, (b) {len(b.outcome.articles)}; "
        f"alerts: (a) {sum(a.outcome.alerts.values())}, (b) {sum(b.outcome.alerts.values())}; "
        f"developments with articles: (a) {sum(a.outcome.developments.values())}, "
        f"(b) {sum(b.outcome.developments.values())} "
        f"({'grouped the same' if same else 'grouped differently'})",
    ]  # fmt: skip
    return "\n".join(lines)


@contextmanager
def sample_hosts(feeds: list[str], delay: float) -> Iterator[dict[str, str]]:
    """Serve the bundled samples once per feed, on 127.0.0.2, .3, ...; yields feed -> URL."""
    from devtools.samples import SampleServer, make_sample_server, start_in_thread

    servers: list[SampleServer] = []
    try:
        for i, _ in enumerate(feeds):
            server = make_sample_server(REPO / "samples", host=f"127.0.0.{i + 2}", port=0)
            assert isinstance(server, SampleServer)
            if delay > 0:
                base: type = server.RequestHandlerClass  # type: ignore[assignment]

                def do_get(handler: Any, base: Any = base) -> None:
                    time.sleep(delay)
                    base.do_GET(handler)

                server.RequestHandlerClass = type("Delayed", (base,), {"do_GET": do_get})
            start_in_thread(server)
            servers.append(server)
        yield {f: f"{s.base_url}/feeds/{f}.xml" for f, s in zip(feeds, servers, strict=True)}
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


def main(argv: list[str] | None = None) -> int:
    """Measure (a) and (b) on the sample feeds; exit 1 when the outcomes differ or a run failed."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="2 feeds instead of 6 (a smoke run)")
    p.add_argument("--shards", type=int, default=2, help="shards, and workers (default 2)")
    p.add_argument("--delay-ms", type=float, default=0.0, help="latency added to each request")
    p.add_argument("--keep", action="store_true", help="keep the temp folder (logs)")
    args = p.parse_args(argv)
    if not postgres_available():
        print(f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}: needed", file=sys.stderr)
        return 2
    feeds = SAMPLE_FEEDS[:2] if args.quick else SAMPLE_FEEDS
    folder = Path(tempfile.mkdtemp(prefix="newsmon-shards-"))
    print(f"one monitor, {len(feeds)} sample feeds on their own hosts, {args.shards} shards, "
          f"{args.delay_ms:.0f} ms per request; logs in {folder}", flush=True)  # fmt: skip
    try:
        with sample_hosts(feeds, args.delay_ms / 1000) as urls:
            cmp = compare(MonitorSpec("shard-bench", urls), folder=folder, shards=args.shards)
    finally:
        if not args.keep:
            import shutil

            shutil.rmtree(folder, ignore_errors=True)
    print(report(cmp))
    problems = cmp.problems()
    for problem in problems:
        print(f"CHECK FAILED: {problem}")
    print("same articles and alerts as one process" if not problems else "checks failed")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
