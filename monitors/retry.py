"""The retry policy of alert delivery: backoff with jitter, and the server's Retry-After."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def retry_delay(
    attempt: int,
    *,
    retry_after: float | None = None,
    base: float = 60.0,
    cap: float = 3600.0,
    jitter: float = 0.1,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait before the next try, after `attempt` failed tries (1 = the first failed).

    Exponential backoff `base * 2**(attempt-1)` capped at `cap`, spread by ±`jitter` (a fraction)
    and never above `cap`; never less than the server's `retry_after` (which may exceed `cap`).
    """
    if attempt < 1:
        raise ValueError(f"retry_delay: attempt counts failed tries from 1, got {attempt}")
    if base < 0 or cap < 0 or not 0 <= jitter <= 1:
        raise ValueError(
            f"retry_delay: need base >= 0, cap >= 0 and 0 <= jitter <= 1; "
            f"got base={base}, cap={cap}, jitter={jitter}"
        )
    delay = min(cap, base * 2.0 ** min(attempt - 1, 64))
    spread = (rng or random).uniform(-jitter, jitter)
    delay = min(cap, max(0.0, delay * (1.0 + spread)))
    if retry_after is not None and retry_after > delay:
        return float(retry_after)
    return delay


def _parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: a number of seconds or an HTTP date; None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
