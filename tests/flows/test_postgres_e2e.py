"""PostgreSQL end to end: a Prefect server on PostgreSQL and newsmon's storage on PostgreSQL.

Two fresh databases (created and dropped here): one the Prefect server keeps its state in
(`PREFECT_API_DATABASE_CONNECTION_URL`, asyncpg), one for newsmon (`NEWSMON_DATABASE_URL`,
psycopg). One `newsmon run` pass against that server, then both sides are read back.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun
from sqlalchemy import create_engine, text
from sqlmodel import Session, select

from storage import repo_alerts
from storage import repository as repo
from storage.db import get_engine
from storage.models import Run
from tests.conftest import POSTGRES_ADMIN_URL, require_postgres
from tests.flows.prefect_server import (
    BIN,
    REPO,
    PrefectServer,
    client_settings,
    database_url,
    describe,
    fresh_postgres_database,
    run_cli,
)
from tests.support.httpserver import LocalHTTPServer
from tests.support.newsfixture import serve_feed, serve_sample

pytestmark = pytest.mark.postgres

ARRIVES = ("guardian", "686b5362458d")  # Kim arrives in Russia to meet Putin: a new development
SEED_COPY = ("guardian", "8506a2e848a0")  # a syndicated copy of seed 003
UNRELATED = ("guardian", "0952f64a7765")  # UK ticket resellers: out of scope


@pytest.fixture
def postgres_prefect_server(tmp_path: Path) -> Iterator[tuple[PrefectServer, str]]:
    """A Prefect server whose own database is a fresh PostgreSQL database; yields (server, db)."""
    require_postgres()
    with fresh_postgres_database(POSTGRES_ADMIN_URL, "prefect_t") as name:
        url = database_url(POSTGRES_ADMIN_URL, name, driver="asyncpg")
        with PrefectServer(tmp_path / "prefect-home", database_url=url) as server:
            yield server, name


async def read_run(server: PrefectServer, run_id: uuid.UUID) -> tuple[FlowRun, list[str]]:
    """The flow run and the keys of its artifacts, through the Prefect API."""
    with client_settings(server):
        async with get_client() as client:
            run = await client.read_flow_run(run_id)
    # the artifacts filter endpoint directly: `client.read_artifacts` sends `"sort": null`,
    # which fastapi 0.154 rejects (422), an unrelated pin problem (see docs/operating.md)
    resp = httpx.post(
        f"{server.api_url}/artifacts/filter",
        json={"artifacts": {"flow_run_id": {"any_": [str(run_id)]}}, "limit": 20},
        timeout=30,
    )
    resp.raise_for_status()
    return run, sorted(a["key"] or "" for a in resp.json())


def test_pass_on_postgres_prefect_server_and_postgres_storage(
    postgres_prefect_server: tuple[PrefectServer, str],
    postgres_url: str,
    site: LocalHTTPServer,
    tmp_path: Path,
) -> None:
    server, prefect_db = postgres_prefect_server
    arrives = serve_sample(site, *ARRIVES)
    seed_copy = serve_sample(site, *SEED_COPY)
    unrelated = serve_sample(site, *UNRELATED)
    feed = serve_feed(site, "/world.xml", [arrives, seed_copy, unrelated])
    monitor = tmp_path / "pg-monitor.yaml"
    monitor.write_text(
        yaml.safe_dump(
            {
                "name": "pg-monitor",
                "seeds": str(REPO / "seeds"),
                "feeds": [{"name": "world", "url": feed}],
                "channels": {"outbox": True},
                "fetch": {"allow_networks": ["127.0.0.1/32"]},
            }
        ),
        encoding="utf-8",
    )
    env = server.subprocess_env(
        NEWSMON_DATA_DIR=str(tmp_path / "data"), NEWSMON_DATABASE_URL=postgres_url
    )
    proc = run_cli([str(BIN / "newsmon"), "run", "--monitor", str(monitor)], env)
    assert proc.returncode == 0, describe(proc)
    found = re.search(r"/runs/flow-run/([0-9a-f-]{36})", proc.stdout)
    assert found, proc.stdout
    run_id = uuid.UUID(found[1])

    # the Prefect side: the run completed, its artifacts are attached, and it lives in Postgres
    run, artifacts = asyncio.run(read_run(server, run_id))
    assert run.state is not None and run.state.is_completed(), run.state
    assert run.parameters == {
        "monitor": str(monitor),
        "force": True,
        "as_of": None,
        "shard": None,
    }
    assert artifacts == ["pg-monitor-articles", "pg-monitor-report"]
    prefect_eng = create_engine(database_url(POSTGRES_ADMIN_URL, prefect_db))
    with prefect_eng.connect() as conn:
        state = conn.execute(
            text("SELECT state_type FROM flow_run WHERE id = :id"), {"id": run_id}
        ).scalar_one()
    prefect_eng.dispose()
    assert state == "COMPLETED"

    # newsmon's side: three articles, one new development, one alert on the outbox, sent
    with Session(get_engine(postgres_url)) as s:
        arts = {a.url: a for a in repo.list_articles(s, monitor="pg-monitor")}
        alerts = repo_alerts.list_alerts(s, monitor="pg-monitor")
        runs = s.exec(select(Run)).all()
    assert set(arts) == {site.url(e.path) for e in (arrives, seed_copy, unrelated)}
    new = arts[site.url(arrives.path)]
    assert new.relevant and new.duplicate_kind is None and new.development_id is not None
    assert arts[site.url(seed_copy.path)].duplicate_kind == "seed"
    assert arts[site.url(unrelated.path)].relevant is False
    assert [(a.channel, a.kind, a.status, a.development_id) for a in alerts] == [
        ("outbox", "new_development", "sent", new.development_id)
    ]
    assert [(r.monitor, r.flow_run_id, r.finished_at is not None) for r in runs] == [
        ("pg-monitor", str(run_id), True)
    ]
