"""The CLI's Prefect side: which server a run reports to, and what of Prefect's logging shows."""

from __future__ import annotations

import logging
import os
import sys

from flows.cli_output import EXIT_UNAVAILABLE, CliError

#: Where `make server` starts the local Prefect server ($NEWSMON_PREFECT_PORT overrides).
LOCAL_PREFECT_PORT = 4200


def _local_prefect_api() -> str:
    port = os.environ.get("NEWSMON_PREFECT_PORT") or str(LOCAL_PREFECT_PORT)
    return f"http://127.0.0.1:{port}/api"


def ensure_prefect_server() -> tuple[str, bool]:
    """The Prefect API the run reports to: the configured one, else the local `make server` one.

    Without a configured PREFECT_API_URL, Prefect would start a temporary server that vanishes
    with the process (and its run with it); newsmon uses the local server when it answers and
    otherwise stops with a one-line remedy (exit 4). Returns the API URL and whether it is the
    local one (which the caller then sets for the run).
    """
    from prefect.settings import PREFECT_API_URL

    configured = PREFECT_API_URL.value()
    if configured:
        return str(configured), False
    import httpx

    api = _local_prefect_api()
    try:
        ok = httpx.get(f"{api}/health", timeout=2.0).status_code == 200
    except httpx.HTTPError:
        ok = False
    if not ok:
        raise CliError(
            f"no Prefect server: PREFECT_API_URL is not set and nothing answers at {api}",
            remedy="start one with `make server` in the newsmon checkout, or set PREFECT_API_URL",
            status=EXIT_UNAVAILABLE,
        )
    return api, True


class StageHandler(logging.StreamHandler):
    """Shows the pass's stage lines and every warning on stderr; the rest stays in the UI."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)
        self.setFormatter(logging.Formatter("  %(message)s"))

    def filter(self, record: logging.LogRecord) -> bool:
        """Stage lines, warnings and errors pass."""
        from flows.monitor_flow import STAGE

        return record.levelno >= logging.WARNING or bool(getattr(record, STAGE, False))


def quiet_prefect_console() -> None:
    """Prefect's console lines ("Finished in state Completed()") off unless NEWSMON_VERBOSE=1."""
    if os.environ.get("NEWSMON_VERBOSE") == "1":
        return
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")
