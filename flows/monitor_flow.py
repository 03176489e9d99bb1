"""The monitoring pass as a Prefect flow: `pipeline.run.run_pass` with one thin task per stage.

Polling runs one task per feed (concurrently, as `run_pass` polls), then one task per batch
stage. Retries are only where errors are transient (the database); feed-level failures are
outcomes recorded per feed, not task failures, so one broken feed never fails a run.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar, cast

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.logging import get_logger
from prefect.runtime import flow_run
from prefect.states import Completed, Failed, State
from sqlalchemy.exc import OperationalError

from flows.crashes import close_failed_run, notice_crashed_runs
from flows.preflight import preflight
from flows.report import markdown_report
from flows.verdict import PARTIAL_STATE, judge
from monitors.clock import simulated_time, utcnow
from monitors.config import MonitorConfig, load_config
from monitors.errors import ConfigError
from monitors.shard import Shard, parse_shard
from pipeline.deliver import notify_run_failure
from pipeline.process import ArticleOutcome
from pipeline.run import run_pass
from pipeline.summary import PassSummary, outcome_rows
from storage import repo_feeds
from storage.db import get_engine, session_scope
from storage.locks import SerialSections, monitor_lock, shard_lock_name

T = TypeVar("T")
DEFAULT_MONITOR = "config/sample.yaml"
#: Stages retried on a transient database error (they only read and write the database).
DB_STAGES = frozenset({"prepare", "stage", "process"})
#: Log records with this attribute set are the pass's stage lines (the CLI shows them on the
#: console while Prefect's per-task lines go to the UI only).
STAGE = "newsmon_stage"
#: How long a run waits for another run of the same monitor before giving up (MonitorBusy).
LOCK_WAIT_SECONDS = 30 * 60


def run_name() -> str:
    """Flow-run name: the monitor's name (its file's stem if the file is unreadable) and time."""
    path = str((flow_run.parameters or {}).get("monitor", DEFAULT_MONITOR))
    try:
        name = load_config(path).name
    except ConfigError:
        name = Path(path).stem  # the flow itself reports the error
    shard = (flow_run.parameters or {}).get("shard")
    if shard:  # "1/2" -> "-s1of2": the shard's runs are told apart in the UI
        name += "-s" + str(shard).strip().replace("/", "of")
    started = flow_run.scheduled_start_time
    return f"{name}-{started:%Y%m%d-%H%M%S}" if started else name


def flow_run_url(flow_run_id: object) -> str | None:
    """URL of a flow run in the Prefect UI, when a UI is configured."""
    from prefect.settings import PREFECT_UI_URL

    ui = PREFECT_UI_URL.value()
    return f"{ui.rstrip('/')}/runs/flow-run/{flow_run_id}" if ui and flow_run_id else None


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


@task(cache_policy=NO_CACHE)
def stage_task(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """One stage of the pass (named by `prefect_stage`)."""
    return fn(*args, **kwargs)


def _constant(name: str) -> Callable[[], str]:
    return lambda: name


def prefect_stage(stage: str, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Stage runner of `run_pass`: each stage a Prefect task ("poll <feed>" one per feed)."""
    kind = "poll" if stage.startswith("poll ") else stage  # task name; the run is named `stage`
    retry: dict[str, Any] = (
        {"retries": 2, "retry_delay_seconds": 5, "retry_condition_fn": retry_on_db_error}
        if kind in DB_STAGES
        else {}
    )
    named = stage_task.with_options(name=kind, task_run_name=_constant(stage), **retry)
    result: T = named(fn, *args, **kwargs)
    line = stage_line(stage, result)
    if line:
        get_run_logger().info(line, extra={STAGE: True})
    return result


def stage_line(stage: str, result: Any) -> str | None:
    """A one-line account of a finished stage, with its counts (None: nothing to say)."""
    if stage == "prepare":
        return (
            f"prepare: {len(result.due_feeds)} feed(s) due, {len(result.skipped_feeds)} not due, "
            f"{result.seeds} seed(s)"
        )
    if stage.startswith("poll "):
        if result.status in ("failed", "gone"):
            return None  # the flow logs it as a warning
        if result.status == "not_modified":
            return f"{stage}: not modified (304)"
        return f"{stage}: {result.items_seen} entries seen, {len(result.items)} new or changed"
    if stage == "extract":  # a list of candidates (a shard), or the streaming pass's report
        n = len(result) if isinstance(result, list) else result.extracted
        return f"extract: {n} article(s) extracted"
    if stage == "stage":
        return f"stage: {result} candidate(s) staged for the round"
    if stage == "barrier":
        if result.taken:
            return f"barrier: the round was processed by a peer run ({result.waited:.0f} s)"
        if result.complete:
            return f"barrier: shards {', '.join(result.arrived)} all staged ({result.waited:.0f} s)"
        return None  # the flow logs it as a warning
    if stage == "process":
        return (
            f"process: {sum(o.relevant for o in result)} in scope, "
            f"{sum(o.new_development for o in result)} new development(s), "
            f"{sum(o.alerts for o in result)} alert(s) created"
        )
    if stage == "deliver":
        return f"deliver: {result.sent} sent, {result.retrying} retrying, {result.dead} dead"
    return None


def report_failure(flow: Any, flow_run: Any, state: Any) -> None:
    """Flow hook (on_failure, on_crashed): tell the monitor's operator channels, once per run."""
    logger = get_logger("newsmon")
    params = flow_run.parameters or {}
    try:
        cfg = load_config(params.get("monitor", DEFAULT_MONITOR))
        preflight(cfg)
    except ConfigError as exc:  # nothing usable to write to: the run's log says why
        logger.error("run %s stopped before any work: %s", flow_run.id, exc)
        return
    try:
        engine = get_engine(cfg.resolved_database_url)
        report = notify_run_failure(
            cfg,
            engine,
            run_key=str(flow_run.id),
            message=f"Flow run {flow_run.name} ended {state.name}: {state.message or ''}",
            run_url=flow_run_url(flow_run.id),
        )
        close_failed_run(cfg, engine, flow_run_id=str(flow_run.id), state=str(state.name))
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
)
def monitor_flow(
    monitor: str = DEFAULT_MONITOR,
    force: bool = False,
    as_of: datetime | None = None,
    shard: str | None = None,
) -> PassSummary:
    """One pass of `monitor` (as of a past UTC time; of one shard "K/N" of its feeds, if
    given); Failed when every feed failed."""
    with simulated_time(as_of):
        return monitor_pass(monitor, force, shard)


def monitor_pass(monitor: str, force: bool, shard: str | None = None) -> PassSummary:
    """The body of `monitor_flow`: preflight checks, the monitor's lock, then the pass.

    Without a shard the whole pass holds the monitor's lock. A run of shard K/N holds its
    shard's lock for the whole pass and the monitor's lock only around the serial sections
    (crashed runs and prepare; process through deliver), so shards overlap while polling.
    """
    part = parse_shard(shard)  # a bad shard stops here, before any work
    cfg = load_config(monitor)
    preflight(cfg)  # seeds, data folder, database: checked before anything is written
    url = cfg.resolved_database_url
    bare = get_engine(url, upgrade=False)
    if part is None:
        with monitor_lock(bare, cfg.name, timeout=LOCK_WAIT_SECONDS) as w:
            # migrated under the lock: two first runs on an empty SQLite file would race on it
            return locked_pass(cfg, get_engine(url), force=force, waited=w)
    name = shard_lock_name(cfg.name, str(part))
    with monitor_lock(bare, name, timeout=LOCK_WAIT_SECONDS) as w:
        serial = SerialSections(bare, cfg.name, timeout=LOCK_WAIT_SECONDS)
        with serial():
            engine = get_engine(url)
        return locked_pass(cfg, engine, force=force, waited=w, shard=part, serial=serial)


def locked_pass(
    cfg: MonitorConfig,
    engine: Any,
    *,
    force: bool,
    waited: float,
    shard: Shard | None = None,
    serial: SerialSections | None = None,
) -> PassSummary:
    """The pass, while this run holds the monitor's lock (or its shard's, with `serial` for the
    monitor's): crashed runs first, then run_pass."""
    logger = get_run_logger()
    if waited >= 1:
        logger.warning("waited %.0f s for another run of %s to finish", waited, cfg.name)
    with serial() if serial else nullcontext():
        crashed = notice_crashed_runs(
            cfg, engine, run_url=flow_run_url(flow_run.id), shard=str(shard) if shard else None
        )
    for line in crashed:
        logger.warning("CRASHED RUN %s", line)
    summary = run_pass(
        cfg,
        engine,
        now=utcnow(),
        force=force,
        runner=prefect_stage,
        flow_run_id=str(flow_run.id or ""),
        run_url=flow_run_url(flow_run.id),
        lookup_block=lookup_secret_block,
        shard=shard,
        serial=serial or nullcontext,
    )
    if serial is not None:
        waited += serial.waited
    logger.info(
        "%s%s: %d feed(s) polled, %d skipped, %d new article(s), %d alert(s) created",
        cfg.name,
        f" shard {shard}" if shard else "",
        summary.feeds_polled,
        len(summary.feeds_skipped),
        summary.new_articles,
        summary.alerts_created,
    )
    if summary.shards_missing:
        logger.warning("shard round: %s", summary.round_note)
    elif summary.round_note:
        logger.info("shard round: %s", summary.round_note)
    for name, message in summary.feeds_failed.items():
        logger.warning("feed %s: %s", name, message)
    for line in summary.feed_health + summary.delivery_messages:
        logger.warning(line)
    summary.crashed_runs, summary.lock_wait_seconds = crashed, round(waited, 1)
    verdict = judge(summary.as_dict())
    summary.status, summary.headline = verdict.status, verdict.headline
    with session_scope(engine) as s:
        repo_feeds.finish_run(s, run_id=summary.run_id or 0, summary=summary.as_dict())
        feeds = repo_feeds.list_feeds(s, monitor=cfg.name)
    publish_artifacts(cfg, summary, summary.outcomes, feeds)
    if verdict.status == "failed":
        logger.error(verdict.headline)
        return as_result(Failed(message=verdict.headline, data=summary))
    if verdict.status == "partial":
        logger.warning(verdict.headline)
        return as_result(Completed(name=PARTIAL_STATE, message=verdict.headline, data=summary))
    return as_result(Completed(message=verdict.headline, data=summary))


def as_result(state: State[Any]) -> PassSummary:
    """A final state returned by the flow: Prefect makes it the run's state and hands callers
    its data (the summary), or raises for a Failed one (`return_state=True` gives the state)."""
    return cast(PassSummary, state)


def publish_artifacts(
    cfg: MonitorConfig,
    summary: PassSummary,
    outcomes: list[ArticleOutcome],
    feeds: list[Any],
) -> None:
    """A markdown report and a sortable table of articles, attached to the flow run."""
    key = "".join(c if c.isalnum() else "-" for c in cfg.name.lower()).strip("-")
    create_markdown_artifact(
        key=f"{key}-report",
        markdown=markdown_report(cfg.name, summary, outcomes, feeds),
        description=f"newsmon pass of {cfg.name}",
    )
    rows = outcome_rows(outcomes)
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
