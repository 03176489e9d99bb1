"""Checks before a pass does any work: seeds folder, data folder, database reachable.

`preflight(cfg)` writes nothing (no database file, no run row, no alert): it reads the seed
corpus, checks that the SQLite file could be created where the URL says (or opens it read-only
when it exists), and connects to any other database with a short timeout. Every problem found is
reported at once as one ConfigError naming the monitor file, what failed and the remedy.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from monitors.config import MonitorConfig
from monitors.errors import ConfigError, NewsmonError
from monitors.seeds import load_seeds

#: seconds to wait for a database server before calling it unreachable
CONNECT_TIMEOUT = 5


def _nearest_existing(path: Path) -> Path:
    """`path` or its closest ancestor that exists."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_sqlite(url: str) -> str | None:
    """Problem with a SQLite URL (file unreadable, folder not creatable), or None."""
    database = make_url(url).database or ""
    if database in ("", ":memory:"):
        return None
    path = Path(database)
    if path.exists():
        try:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=CONNECT_TIMEOUT)
            try:
                conn.execute("select count(*) from sqlite_master").fetchone()
            finally:
                conn.close()
        except sqlite3.Error as exc:
            return (
                f"database: cannot open the SQLite file {path}: {exc}; "
                "check the file is a newsmon database and readable"
            )
        return None
    anchor = _nearest_existing(path.parent)
    if not anchor.is_dir() or not os.access(anchor, os.W_OK | os.X_OK):
        return (
            f"database: cannot create the SQLite file {path}: {anchor} is not a writable folder; "
            "set data_dir or database_url in the monitor file (or NEWSMON_DATA_DIR)"
        )
    return None


def check_server(url: str) -> str | None:
    """Problem connecting to a database server at `url` (SELECT 1), or None."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    shown = make_url(url).render_as_string(hide_password=True)
    args = {"connect_timeout": CONNECT_TIMEOUT} if url.startswith("postgresql") else {}
    engine = create_engine(url, connect_args=args)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means "not reachable"; say which
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return (
            f"database: {shown} is not reachable ({type(exc).__name__}: {first}); "
            "start the database server or fix database_url / NEWSMON_DATABASE_URL"
        )
    finally:
        engine.dispose()
    return None


def check_database(url: str) -> str | None:
    """Problem with the database URL, or None; writes nothing."""
    try:
        make_url(url)
    except Exception as exc:
        return f"database: {url!r} is not a database URL ({exc})"
    return check_sqlite(url) if url.startswith("sqlite") else check_server(url)


def preflight(cfg: MonitorConfig) -> None:
    """Raise ConfigError listing every problem that would stop the pass; writes nothing."""
    problems: list[str] = []
    try:
        load_seeds(cfg.seeds_dir)
    except NewsmonError as exc:
        problems.append(f"seeds: {cfg.seeds_dir}: {str(exc).splitlines()[-1].strip(' -')}")
    db = check_database(cfg.resolved_database_url)
    if db:
        problems.append(db)
    if problems:
        source = str(cfg.source_path) if cfg.source_path else cfg.name
        raise ConfigError(source, problems)
