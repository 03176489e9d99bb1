"""`newsmon serve`: run a monitor's schedule in this process, beside deployments, never over them.

The served deployment is named `<monitor>-serve`, so it can never replace the deployment
`make deploy` made for the same monitor (`prefect.yaml` names those after the monitor). While a
deployment of the same monitor has an active schedule, `serve` refuses: both would poll the same
feeds into the same database. Stopping `serve` (Ctrl-C or SIGTERM) pauses only its own
deployment's schedule and awaits the runner's shutdown.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

from monitors.config import MonitorConfig
from monitors.errors import NewsmonError

FLOW_NAME = "newsmon-monitor"
SERVE_SUFFIX = "-serve"


class ServeConflict(NewsmonError):
    """A deployment with an active schedule already runs this monitor; serving it too would
    poll the same feeds twice."""


def serve_name(cfg: MonitorConfig) -> str:
    """Name of the deployment `newsmon serve` registers for the monitor."""
    return f"{cfg.name}{SERVE_SUFFIX}"


def _same_file(param: Any, path: str) -> bool:
    """Whether a deployment's `monitor` parameter names the file at `path`."""
    if not isinstance(param, str):
        return False
    return Path(param).resolve() == Path(path).resolve()


async def scheduled_elsewhere(cfg: MonitorConfig, path: str) -> list[str]:
    """Deployments (other than serve's own) of this monitor whose schedule is active."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    async with get_client() as client:
        deps = await client.read_deployments(
            flow_filter=FlowFilter(name=FlowFilterName(any_=[FLOW_NAME])), limit=200
        )
    found = []
    for d in deps:
        if d.name == serve_name(cfg):
            continue
        same = cfg.name in (d.tags or []) or _same_file((d.parameters or {}).get("monitor"), path)
        active = not d.paused and any(s.active for s in d.schedules)
        if same and active:
            pool = f", work pool {d.work_pool_name}" if d.work_pool_name else ""
            found.append(f"{FLOW_NAME}/{d.name}{pool}")
    return found


def _stoppable_runner(**kwargs: Any) -> Any:
    """A Prefect Runner whose SIGTERM handler cancels the serve task (shutdown is awaited).

    The stock handler calls `stop()` from a signal handler inside the event loop, which creates
    the `astop` coroutine without awaiting it and exits at once.
    """
    from prefect.runner import Runner

    class StoppableRunner(Runner):
        """Runner that stops by cancelling the task serving it."""

        serve_task: asyncio.Task[Any] | None = None

        def handle_sigterm(self, *args: Any) -> None:
            """Cancel the serve task; the runner's exit pauses its schedules and cleans up."""
            self._logger.info("SIGTERM received, stopping newsmon serve")
            task = self.serve_task
            if task is not None:
                task.get_loop().call_soon_threadsafe(task.cancel)

    return StoppableRunner(**kwargs)


async def aserve(cfg: MonitorConfig, path: str, cron: str) -> None:
    """Register `<monitor>-serve` with schedule `cron` and run its flow runs until stopped."""
    from flows.monitor_flow import monitor_flow

    others = await scheduled_elsewhere(cfg, path)
    if others:
        raise ServeConflict(
            f"monitor {cfg.name!r} ({path}) is already scheduled by the deployment "
            f"{'; '.join(others)}; serving it too would poll the same feeds twice. "
            "Either let the workers run it, or pause that deployment's schedule "
            "(Prefect UI, or `prefect deployment schedule pause`) and serve again."
        )
    deployment = await monitor_flow.ato_deployment(
        name=serve_name(cfg),
        cron=cron,
        parameters={"monitor": path},
        tags=["newsmon", cfg.name, "serve"],
        description=f"newsmon serve of {path}: runs only while `newsmon serve` is running.",
    )
    runner = _stoppable_runner(name=serve_name(cfg), pause_on_shutdown=True, limit=1)
    runner.serve_task = asyncio.current_task()
    await runner.aadd_deployment(deployment)
    print(
        f"newsmon serve: deployment {FLOW_NAME}/{serve_name(cfg)} on cron {cron!r}; "
        "Ctrl-C or SIGTERM stops it (and pauses that schedule only)",
        flush=True,
    )
    await runner.start()


def serve(cfg: MonitorConfig, path: str, cron: str) -> int:
    """Serve the monitor until Ctrl-C or SIGTERM; exit status 0 after a clean stop."""
    try:
        asyncio.run(aserve(cfg, path, cron))
    except (KeyboardInterrupt, asyncio.CancelledError):
        pass
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    print("newsmon serve: stopped", flush=True)
    return 0
