"""Engine, sessions and schema migrations (Alembic, applied automatically)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, create_engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()
_migrated: set[str] = set()
#: Execution option that makes SQLite begin a transaction with BEGIN IMMEDIATE.
IMMEDIATE_OPTION = "newsmon_sqlite_immediate"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # the driver's own transaction handling would open a transaction only before a write and
    # commit at the release of a first SAVEPOINT; `_sqlite_begin` emits BEGIN itself instead
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _sqlite_begin(conn: Connection) -> None:
    """BEGIN (IMMEDIATE for a unit of work of `session_scope`: it takes the write lock first,
    waiting up to the busy timeout, so a transaction never fails upgrading a read to a write)."""
    immediate = conn.get_execution_options().get(IMMEDIATE_OPTION, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_engine(url: str) -> Engine:
    """Create an engine for `url` (SQLite gets WAL, a busy timeout and foreign keys)."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_pre_ping=True)


def alembic_config(url: str) -> Config:
    """An Alembic config pointing at newsmon's migrations and `url`."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


#: PostgreSQL advisory-lock key taken while migrating, so that workers starting at the same
#: moment on an empty shared database do not race on CREATE TABLE (an arbitrary constant).
MIGRATION_LOCK_KEY = 746_2028_41


def migrate(engine: Engine, revision: str = "head") -> None:
    """Apply migrations up to `revision` on the engine's database (serialised on PostgreSQL)."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def get_engine(url: str, *, upgrade: bool = True) -> Engine:
    """A shared engine for `url`, migrated to the newest schema on first use."""
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            engine = make_engine(url)
            _engines[url] = engine
        if upgrade and url not in _migrated:
            migrate(engine)
            _migrated.add(url)
    return engine


def dispose_engines() -> None:
    """Close every pooled connection (tests, and the end of a CLI command)."""
    with _engines_lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
        _migrated.clear()


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One unit of work: one transaction, committed on success and rolled back on error.

    On SQLite it begins IMMEDIATE (writers queue up front, within the busy timeout); keep
    network calls out of it.
    """
    bind = engine.execution_options(**{IMMEDIATE_OPTION: True})
    with Session(bind, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
