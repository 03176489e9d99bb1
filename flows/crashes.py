"""Runs that died without finishing, noticed by the next run of the same monitor.

A run killed without a chance to report itself (`kill -9`, a lost machine) leaves its run row
open, its Prefect flow run RUNNING and maybe alerts claimed for delivery. The next run, once it
holds the monitor's lock (so no other pass of the monitor is alive), calls
`notice_crashed_runs`: each open run is closed as `crashed`, its flow run is set Crashed in
Prefect, the claims it left are given back (so only what was in flight can be sent twice), and
the operator channels are told once per run. The new run's summary lists them.

A run of one shard of the monitor does not hold the monitor's lock while it polls, but holds
its shard's lock for its whole pass: an open run of a shard whose lock someone else holds is
alive, not crashed, and is left alone.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from prefect.logging import get_logger

from monitors.config import MonitorConfig
from pipeline.deliver import notify_run_failure
from storage import repo_alerts, repo_feeds
from storage.db import session_scope
from storage.locks import lock_held, shard_lock_name
from storage.models import Run

CRASHED = "crashed"


def mark_prefect_crashed(flow_run_id: str, message: str) -> bool:
    """Set a flow run that is not final to Crashed in the Prefect API; whether it was changed."""
    from prefect.client.orchestration import get_client
    from prefect.states import Crashed

    try:
        with get_client(sync_client=True) as client:
            run = client.read_flow_run(UUID(flow_run_id))
            if run.state is None or run.state.is_final():
                return False
            client.set_flow_run_state(run.id, Crashed(message=message), force=True)
            return True
    except Exception as exc:  # the API may be another server's, or gone: say so, go on
        get_logger("newsmon").warning("could not mark flow run %s crashed: %s", flow_run_id, exc)
        return False


def still_running(engine: Any, monitor: str, run: Run, *, shard: str | None) -> bool:
    """Whether an open run is alive: a run of another shard than the caller's whose shard lock
    is held (an unsharded run holds the monitor's lock, which the caller holds)."""
    if run.shard is None or run.shard == shard:  # the caller holds that lock: the run is dead
        return False
    return lock_held(engine, shard_lock_name(monitor, run.shard))


def notice_crashed_runs(
    cfg: MonitorConfig, engine: Any, *, run_url: str | None, shard: str | None = None
) -> list[str]:
    """Close the monitor's open runs as crashed, free their claims, tell the operator.

    Call only while holding the monitor's lock (and, for a run of shard `shard`, that shard's).
    Returns one line per crashed run.
    """
    with session_scope(engine) as s:
        runs = [
            r
            for r in repo_feeds.unfinished_runs(s, monitor=cfg.name)
            if not still_running(engine, cfg.name, r, shard=shard)
        ]
        lines = {}
        for run in runs:
            lines[run.id] = (
                f"run {run.id} (flow run {run.flow_run_id or '-'}, started "
                f"{run.started_at:%Y-%m-%d %H:%M:%S} UTC) ended without finishing (killed or "
                "crashed); this run picks up what it left"
            )
            repo_feeds.close_run(s, run=run, status=CRASHED, headline=lines[run.id])
        freed = repo_alerts.release_claims(s, monitor=cfg.name) if runs else 0
    for run in runs:
        if run.flow_run_id:
            mark_prefect_crashed(run.flow_run_id, lines[run.id])
        notify_run_failure(
            cfg,
            engine,
            run_key=run.flow_run_id or f"db-run-{run.id}",
            message=lines[run.id] + (f"; {freed} alert claim(s) given back" if freed else ""),
            run_url=run_url,
        )
    return [lines[r.id] for r in runs]


def close_failed_run(cfg: MonitorConfig, engine: Any, *, flow_run_id: str, state: str) -> None:
    """Close the run row of a flow run that ended Failed/Crashed through Prefect's hooks."""
    with session_scope(engine) as s:
        for run in repo_feeds.unfinished_runs(s, monitor=cfg.name, flow_run_id=flow_run_id):
            repo_feeds.close_run(
                s, run=run, status=state.lower(), headline=f"flow run ended {state}"
            )
