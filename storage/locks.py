"""One pass per monitor at a time, across processes (and machines, on PostgreSQL).

* PostgreSQL: a session-level advisory lock (`pg_try_advisory_lock`) keyed by the monitor's
  name, held on one dedicated connection for the whole pass. Every machine sharing the database
  sees it; the server releases it when the connection drops (a killed run holds nothing).
* SQLite: an exclusive `flock` on `<database file>.<monitor>.lock` beside the database. SQLite is
  shared only by processes of one machine, which is exactly what `flock` covers; the kernel
  releases it when the process dies. (SQLite's own write lock cannot be held for a whole pass:
  the pass writes through other connections.)

A second run waits for the first (polling every half second) up to `timeout`, then gives up
with MonitorBusy; it never runs beside it.

A run of one shard of a monitor (`monitors.shard`) holds the lock of its shard,
`shard_lock_name(monitor, shard)`, for the whole pass, and takes the monitor's lock only for
the sections that must stay serial per monitor (`SerialSections`): two runs of one shard never
overlap, runs of different shards overlap while they poll and extract.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine

from monitors.errors import NewsmonError

POLL_SECONDS = 0.5


class MonitorBusy(NewsmonError):
    """Another run of the same monitor held the lock for longer than the wait allowed."""


def lock_key(monitor: str) -> int:
    """A signed 64-bit advisory-lock key for the monitor (stable across processes)."""
    digest = hashlib.sha256(f"newsmon-pass:{monitor}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _busy(monitor: str, timeout: float, where: str) -> MonitorBusy:
    return MonitorBusy(
        f"another run of monitor {monitor!r} has held its lock ({where}) for over {timeout:.0f} s; "
        "this run did nothing. Wait for that run to finish, or find the stuck process."
    )


@contextmanager
def _postgres_lock(engine: Engine, monitor: str, timeout: float) -> Iterator[float]:
    key = lock_key(monitor)
    started = time.monotonic()
    conn = engine.connect()
    try:
        while not conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar():
            conn.commit()
            if time.monotonic() - started > timeout:
                raise _busy(monitor, timeout, f"PostgreSQL advisory lock {key}")
            time.sleep(POLL_SECONDS)
        conn.commit()  # the lock is the session's; no transaction stays open
        yield time.monotonic() - started
    finally:
        try:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            conn.commit()
        finally:
            conn.close()


@contextmanager
def _file_lock(path: Path, monitor: str, timeout: float) -> Iterator[float]:
    started = time.monotonic()
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() - started > timeout:
                    raise _busy(monitor, timeout, f"file lock {path}") from None
                time.sleep(POLL_SECONDS)
        yield time.monotonic() - started
    finally:
        os.close(fd)  # closing the descriptor releases the flock


def lock_path(engine: Engine, monitor: str) -> Path | None:
    """The lock file of a SQLite database (None for an in-memory one)."""
    database = engine.url.database
    if not database or database == ":memory:":
        return None
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in monitor)
    return Path(f"{database}.{safe}.lock")


def shard_lock_name(monitor: str, shard: str) -> str:
    """The name locked by the runs of one shard ("K/N") of a monitor."""
    return f"{monitor}#{shard}"


def lock_held(engine: Engine, monitor: str) -> bool:
    """Whether another session or process holds `monitor`'s lock now (a try, never a wait)."""
    if engine.dialect.name == "postgresql":
        key = lock_key(monitor)
        with engine.connect() as conn:
            got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
            if got:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            conn.commit()
        return not got
    path = lock_path(engine, monitor) if engine.dialect.name == "sqlite" else None
    if path is None:
        return False
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


class SerialSections:
    """The monitor's lock taken afresh for each serial section of a sharded pass.

    Calling it gives a context manager holding the lock; `waited` sums the seconds spent
    waiting for it over every section.
    """

    def __init__(self, engine: Engine, monitor: str, *, timeout: float) -> None:
        self.engine = engine
        self.monitor = monitor
        self.timeout = timeout
        self.waited = 0.0

    @contextmanager
    def __call__(self) -> Iterator[None]:
        """Hold the monitor's lock for the block."""
        with monitor_lock(self.engine, self.monitor, timeout=self.timeout) as waited:
            self.waited += waited
            yield


@contextmanager
def monitor_lock(engine: Engine, monitor: str, *, timeout: float) -> Iterator[float]:
    """Hold the monitor's pass lock for the block; yields the seconds spent waiting for it."""
    if engine.dialect.name == "postgresql":
        with _postgres_lock(engine, monitor, timeout) as waited:
            yield waited
        return
    path = lock_path(engine, monitor) if engine.dialect.name == "sqlite" else None
    if path is None:
        yield 0.0
        return
    with _file_lock(path, monitor, timeout) as waited:
        yield waited
