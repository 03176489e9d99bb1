"""A real Prefect server in a subprocess for tests and demos: own port, own PREFECT_HOME.

`PrefectServer.start()` launches `prefect server start` in a new session (the `--background`
flag dies in this sandbox), polls `/api/health`, and `stop()` ends the whole process group.
`subprocess_env()` is the environment a `newsmon`/`prefect` subprocess needs to talk to it.
The database of the server is SQLite in its PREFECT_HOME unless `database_url` is given
(e.g. `postgresql+asyncpg://postgres@127.0.0.1:5432/<db>`).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

#: settings that would point a child process at another server or profile
_INHERITED_PREFECT = ("PREFECT_API_URL", "PREFECT_UI_URL", "PREFECT_HOME", "PREFECT_PROFILE")


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrefectServer:
    """One `prefect server start` process with its own home, port and database."""

    def __init__(
        self,
        home: Path,
        *,
        port: int | None = None,
        database_url: str | None = None,
        startup_timeout: float = 120.0,
    ) -> None:
        self.home = home
        self.port = port or free_port()
        self.database_url = database_url
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = home / "server.log"

    @property
    def api_url(self) -> str:
        """`http://127.0.0.1:<port>/api`."""
        return f"http://127.0.0.1:{self.port}/api"

    @property
    def ui_url(self) -> str:
        """`http://127.0.0.1:<port>` (the UI is served at the root)."""
        return f"http://127.0.0.1:{self.port}"

    def subprocess_env(self, **extra: str) -> dict[str, str]:
        """Environment for a child process (`newsmon`, `prefect`) that uses this server."""
        env = {k: v for k, v in os.environ.items() if k not in _INHERITED_PREFECT}
        env.update(
            PREFECT_HOME=str(self.home),
            PREFECT_API_URL=self.api_url,
            PREFECT_UI_URL=self.ui_url,
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            DO_NOT_TRACK="1",
            PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        )
        env.update(extra)
        return env

    def healthy(self) -> bool:
        """Whether `/api/health` answers 200."""
        try:
            with urllib.request.urlopen(f"{self.api_url}/health", timeout=2) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def start(self) -> PrefectServer:
        """Start the server and wait until it answers; raises with the log tail otherwise."""
        self.home.mkdir(parents=True, exist_ok=True)
        env = self.subprocess_env()
        env.pop("PREFECT_API_URL")  # the server itself must not talk to itself as a client
        # what the UI in the browser calls: without these it defaults to port 4200
        env.update(
            PREFECT_SERVER_API_HOST="127.0.0.1",
            PREFECT_SERVER_API_PORT=str(self.port),
            PREFECT_UI_API_URL=self.api_url,
        )
        if self.database_url:
            env["PREFECT_API_DATABASE_CONNECTION_URL"] = self.database_url
        cmd = [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1"]
        cmd += ["--port", str(self.port), "--analytics-off"]
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            cmd,
            cwd=str(self.home),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if self.healthy():
                return self
            time.sleep(0.5)
        tail = self.log_tail()
        self.stop()
        raise RuntimeError(f"Prefect server on port {self.port} did not start:\n{tail}")

    def log_tail(self, chars: int = 4000) -> str:
        """The end of the server log (for failure messages)."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """Stop the server and everything it started (its process group)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
            except ProcessLookupError:
                pass
        self.proc = None

    def __enter__(self) -> PrefectServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextmanager
def client_settings(server: PrefectServer) -> Iterator[None]:
    """Point this process's Prefect client settings (`get_client()`) at `server`."""
    from prefect.settings import PREFECT_API_URL, PREFECT_UI_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: server.api_url, PREFECT_UI_URL: server.ui_url}):
        yield


def run_cli(
    args: list[str], env: dict[str, str], *, cwd: Path = REPO, timeout: float = 180.0
) -> subprocess.CompletedProcess[str]:
    """Run a command (its output captured as text) and return the completed process."""
    return subprocess.run(
        args, cwd=str(cwd), env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def describe(proc: subprocess.CompletedProcess[Any]) -> str:
    """A failure message with the command, exit status and output."""
    return f"{proc.args!r} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    """One real Prefect server (SQLite, own home, free port) shared by a test session."""
    with PrefectServer(tmp_path_factory.mktemp("prefect-server")) as server:
        yield server


@contextmanager
def fresh_postgres_database(admin_url: str, prefix: str) -> Iterator[str]:
    """Create an empty PostgreSQL database (named `<prefix>_<random>`), drop it afterwards.

    `admin_url` is a SQLAlchemy URL of any database on the server; yields the new one's name.
    """
    import uuid

    from sqlalchemy import create_engine, text

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def database_url(admin_url: str, name: str, driver: str | None = None) -> str:
    """`admin_url` with database `name` (and optionally another driver, e.g. `asyncpg`)."""
    base = admin_url.rsplit("/", 1)[0]
    if driver:
        base = "postgresql+" + driver + base[base.index("://") :]
    return f"{base}/{name}"
