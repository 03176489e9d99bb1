"""Scale-out demo setup: PostgreSQL check, the sample site, monitor files and worker processes."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml
from sqlalchemy import create_engine, text

from tests.flows.prefect_server import (
    BIN,
    REPO,
    PrefectServer,
)

POSTGRES_ADMIN_URL = os.environ.get(
    "NEWSMON_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
POOL = "newsmon-scaleout"
SAMPLE_FEEDS = ["guardian", "bbc-news", "nytimes-world", "wsj-world", "aljazeera", "nbcnews-world"]


@dataclass
class MonitorSpec:
    """One monitor (one deployment): its name and its feeds (name -> URL)."""

    name: str
    feeds: dict[str, str]


def postgres_available(admin_url: str = POSTGRES_ADMIN_URL) -> bool:
    """Whether PostgreSQL answers at `admin_url`."""
    try:
        eng = create_engine(admin_url, connect_args={"connect_timeout": 3})
        with eng.connect() as conn:
            conn.execute(text("select 1"))
        eng.dispose()
        return True
    except Exception:
        return False


@contextmanager
def sample_site() -> Iterator[str]:
    """Serve the bundled samples on a free port in a thread; yields the base URL."""
    from devtools.samples import SampleServer, make_sample_server, start_in_thread

    server = make_sample_server(REPO / "samples", host="127.0.0.1", port=0)
    assert isinstance(server, SampleServer)
    start_in_thread(server)
    try:
        yield server.base_url
    finally:
        server.shutdown()
        server.server_close()


def sample_monitors(base_url: str, parts: int = 2) -> list[MonitorSpec]:
    """The sample feeds split into `parts` monitors (`scale-a`, `scale-b`, ...)."""
    return [
        MonitorSpec(
            name=f"scale-{chr(ord('a') + i)}",
            feeds={f: f"{base_url}/feeds/{f}.xml" for f in SAMPLE_FEEDS[i::parts]},
        )
        for i in range(parts)
    ]


def write_monitor(spec: MonitorSpec, folder: Path, newsmon_db_url: str) -> Path:
    """A monitor file for `spec` storing into the shared database; returns its path."""
    path = folder / f"{spec.name}.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": spec.name,
                "seeds": str(REPO / "seeds"),
                "database_url": newsmon_db_url,
                "data_dir": str(folder / "data" / spec.name),
                "feeds": [{"name": n, "url": u} for n, u in spec.feeds.items()],
                "channels": {"outbox": True},
                "fetch": {"allow_networks": ["127.0.0.1/32"]},
            }
        ),
        encoding="utf-8",
    )
    return path


def start_worker(server: PrefectServer, name: str, folder: Path) -> subprocess.Popen[bytes]:
    """`prefect worker start --pool POOL --name NAME --limit 1` in its own process group."""
    env = server.subprocess_env(
        PREFECT_WORKER_QUERY_SECONDS="2",
        PREFECT_WORKER_PREFETCH_SECONDS="5",
        NEWSMON_DATA_DIR=str(folder / "data"),
    )
    cmd = [str(BIN / "prefect"), "worker", "start", "--pool", POOL, "--name", name]
    cmd += ["--limit", "1", "--type", "process"]
    log = (folder / f"{name}.log").open("wb")
    proc = subprocess.Popen(
        cmd,
        cwd=str(REPO),
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    return proc


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group of `proc`, SIGKILL after 20 s."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    except ProcessLookupError:
        pass
