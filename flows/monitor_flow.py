"""The monitoring pass as a Prefect flow: thin tasks around `pipeline.core`.

One task per feed (polling and page fetching run concurrently on the thread pool), then one
task per batch stage. Retries are only where errors are transient (the database); feed-level
failures are outcomes recorded per feed, not task failures, so one broken feed never fails a run.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.logging import get_logger
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner
from sqlalchemy.exc import OperationalError

from flows.report import markdown_report
from monitors.clock import utcnow
from monitors.config import MonitorConfig, load_config
from monitors.errors import ConfigError
from monitors.httpclient import Fetcher
from pipeline import core as pipeline
from pipeline import outbox
from storage import repository as repo
from storage.db import get_engine, session_scope

DEFAULT_MONITOR = "config/sample.yaml"
#: Feeds polled at once in a run (each also fetches its pages with a few threads, and the
#: fetcher limits requests per host); Prefect's default thread pool is unbounded.
POLL_THREADS = 8
POLL_RUNNER: Any = ThreadPoolTaskRunner(max_workers=POLL_THREADS)


def run_name() -> str:
    """Flow-run name: the monitor's name (its file's stem if the file is unreadable) and time."""
    path = str((flow_run.parameters or {}).get("monitor", DEFAULT_MONITOR))
    try:
        name = load_config(path).name
    except ConfigError:
        name = Path(path).stem  # the flow itself reports the error
    started = flow_run.scheduled_start_time
    return f"{name}-{started:%Y%m%d-%H%M%S}" if started else name


def run_url() -> str | None:
    """URL of the current flow run in the Prefect UI, when a UI is configured."""
    from prefect.settings import PREFECT_UI_URL

    ui = PREFECT_UI_URL.value()
    return f"{ui.rstrip('/')}/runs/flow-run/{flow_run.id}" if ui and flow_run.id else None


def lookup_secret_block(name: str) -> str:
    """Read a Prefect Secret block (for `prefect_secret:` references in monitor files)."""
    from prefect.blocks.system import Secret

    block: Any = Secret.load(name)
    return str(block.get())


def retry_on_db_error(task: Any, task_run: Any, state: Any) -> bool:
    """Retry a task only when it failed on a transient database error (locked, dropped)."""
    try:
        state.result()
    except OperationalError:
        return True
    except Exception:
        return False
    return False


@task(
    name="prepare",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=5,
    retry_condition_fn=retry_on_db_error,
)
def prepare_task(cfg: MonitorConfig, now: datetime, force: bool) -> pipeline.Prepared:
    """Store feeds and seeds; choose the feeds due now."""
    return pipeline.prepare(cfg, get_engine(cfg.resolved_database_url), now=now, force=force)


@task(task_run_name="poll {feed_name}", cache_policy=NO_CACHE)
def poll_task(
    cfg: MonitorConfig, fetcher: Fetcher, feed_name: str, now: datetime
) -> pipeline.Harvest:
    """Poll one feed and fetch the pages of its new entries."""
    engine = get_engine(cfg.resolved_database_url)
    return pipeline.harvest_feed(cfg, engine, fetcher, feed_name=feed_name, now=now)


@task(name="extract", cache_policy=NO_CACHE)
def extract_task(harvests: list[pipeline.Harvest]) -> list[pipeline.Candidate]:
    """Extract full text of every new page in one bounded worker pool."""
    return pipeline.extract_batch(harvests)


@task(
    name="process",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=5,
    retry_condition_fn=retry_on_db_error,
)
def process_task(
    cfg: MonitorConfig,
    candidates: list[pipeline.Candidate],
    run_id: int,
    now: datetime,
    url: str | None,
) -> list[pipeline.ArticleOutcome]:
    """Dedup, tag, group, store, and write owed alerts to the outbox."""
    engine = get_engine(cfg.resolved_database_url)
    return pipeline.process_batch(cfg, engine, candidates, run_id=run_id, now=now, run_url=url)


@task(name="deliver", cache_policy=NO_CACHE)
def deliver_task(cfg: MonitorConfig) -> outbox.DeliveryReport:
    """Send every alert the outbox owes."""
    engine = get_engine(cfg.resolved_database_url)
    return outbox.deliver_pending(cfg, engine, lookup_block=lookup_secret_block)


@task(name="feed health", cache_policy=NO_CACHE)
def health_task(cfg: MonitorConfig, run_id: int, now: datetime, url: str | None) -> list[str]:
    """Raise feed-health and recovery alerts; returns what changed."""
    engine = get_engine(cfg.resolved_database_url)
    return pipeline.check_feed_health(cfg, engine, run_id=run_id, now=now, run_url=url)


def report_failure(flow: Any, flow_run: Any, state: Any) -> None:
    """Flow hook (on_failure, on_crashed): tell the monitor's operator channels, once per run."""
    logger = get_logger("newsmon")
    params = flow_run.parameters or {}
    try:
        cfg = load_config(params.get("monitor", DEFAULT_MONITOR))
        engine = get_engine(cfg.resolved_database_url)
        from prefect.settings import PREFECT_UI_URL

        ui = PREFECT_UI_URL.value()
        report = outbox.notify_run_failure(
            cfg,
            engine,
            run_key=str(flow_run.id),
            message=f"Flow run {flow_run.name} ended {state.name}: {state.message or ''}",
            run_url=f"{ui.rstrip('/')}/runs/flow-run/{flow_run.id}" if ui else None,
        )
    except Exception as exc:  # a hook must not raise; say why the operator was not told
        logger.error("could not report the failed run %s: %s", flow_run.id, exc)
        return
    logger.warning(
        "failed run reported to the operator: %d sent, %d retrying, %d dead",
        report.sent,
        report.retrying,
        report.dead,
    )


@flow(
    name="newsmon-monitor",
    flow_run_name=run_name,
    log_prints=False,
    on_failure=[report_failure],
    on_crashed=[report_failure],
    task_runner=POLL_RUNNER,
)
def monitor_flow(monitor: str = DEFAULT_MONITOR, force: bool = False) -> dict[str, Any]:
    """One monitoring pass of the monitor file `monitor`."""
    logger = get_run_logger()
    cfg = load_config(monitor)
    engine = get_engine(cfg.resolved_database_url)
    now = utcnow()
    url = run_url()
    with session_scope(engine) as s:
        run_id = repo.start_run(s, monitor=cfg.name, flow_run_id=str(flow_run.id or "")).id or 0
    prepared = prepare_task(cfg, now, force)
    logger.info(
        "%s: %d feed(s) due, %d skipped, %d seed(s)",
        cfg.name,
        len(prepared.due_feeds),
        len(prepared.skipped_feeds),
        prepared.seeds,
    )
    with Fetcher(cfg.fetch) as fetcher:
        futures = [poll_task.submit(cfg, fetcher, name, now) for name in prepared.due_feeds]
        harvests = [f.result() for f in futures]
    for h in harvests:
        log = logger.warning if h.status in ("failed", "gone") else logger.info
        log("feed %s: %s", h.feed, h.message)
    candidates = extract_task(harvests)
    outcomes = process_task(cfg, candidates, run_id, now, url)
    health = health_task(cfg, run_id, now, url)
    for line in health:
        logger.warning(line)
    delivery = deliver_task(cfg)
    for line in delivery.messages:
        logger.warning(line)
    summary = pipeline.summarize(
        prepared=prepared, harvests=harvests, outcomes=outcomes, delivery=delivery
    )
    summary["monitor"] = cfg.name
    summary["run_url"] = url
    summary["feed_health"] = health
    with session_scope(engine) as s:
        repo.finish_run(s, run_id=run_id, summary=summary)
        feeds = repo.list_feeds(s, monitor=cfg.name)
    publish_artifacts(cfg, summary, outcomes, feeds)
    return summary


def publish_artifacts(
    cfg: MonitorConfig,
    summary: dict[str, Any],
    outcomes: list[pipeline.ArticleOutcome],
    feeds: list[Any],
) -> None:
    """A markdown report and a sortable table of articles, attached to the flow run."""
    key = "".join(c if c.isalnum() else "-" for c in cfg.name.lower()).strip("-")
    create_markdown_artifact(
        key=f"{key}-report",
        markdown=markdown_report(cfg.name, summary, outcomes, feeds),
        description=f"newsmon pass of {cfg.name}",
    )
    rows = pipeline.outcome_rows(outcomes)
    if rows:
        create_table_artifact(
            key=f"{key}-articles",
            table=[
                {
                    k: r[k]
                    for k in (
                        "feed",
                        "title",
                        "url",
                        "duplicate",
                        "topics",
                        "relevant",
                        "development_id",
                        "alerts",
                        "note",
                    )
                }
                for r in rows
            ],
            description="Articles processed in this pass",
        )
