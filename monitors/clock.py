"""The one clock of newsmon: aware UTC datetimes.

Normally the wall clock. A replay of past news (`newsmon run --as-of`, `scripts/replay.py`) sets
a simulated time: the clock then runs from that instant at the wall clock's pace (a fixed offset,
process-wide), so everything that reads the time through `utcnow()` — development windows, seed
coverage dates, feed scheduling and health, outbox delivery and backoff — sees the simulated
time, while timeouts and rate limits keep using real elapsed time.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

_offset = timedelta(0)


def utcnow() -> datetime:
    """The current time, timezone-aware UTC (the simulated time while one is set)."""
    return datetime.now(UTC) + _offset


def as_utc(value: datetime | None) -> datetime | None:
    """An aware UTC datetime (naive input is taken as UTC)."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def set_simulated_time(as_of: datetime | None) -> None:
    """Make `utcnow()` run from `as_of` from now on (None: back to the wall clock)."""
    global _offset
    _offset = timedelta(0) if as_of is None else (as_utc(as_of) or as_of) - datetime.now(UTC)


@contextmanager
def simulated_time(as_of: datetime | None) -> Iterator[None]:
    """Within the block, `utcnow()` runs from `as_of` (None leaves the clock alone)."""
    global _offset
    saved = _offset
    if as_of is not None:
        set_simulated_time(as_of)
    try:
        yield
    finally:
        _offset = saved
