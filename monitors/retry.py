"""Retry timing shared by feed polling and alert delivery: one backoff, one Retry-After parser."""

from __future__ import annotations

import email.utils
import random
from datetime import UTC, datetime


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
    so failing tries do not retry in lockstep; at the cap the spread only shortens the wait, so
    the result never exceeds `cap`. Never less than the server's `retry_after` (which may exceed
    `cap`: the server's word wins).
    """
    if attempt < 1:
        raise ValueError(f"retry_delay: attempt counts failed tries from 1, got {attempt}")
    if base < 0 or cap < 0 or not 0 <= jitter <= 1:
        raise ValueError(
            f"retry_delay: need base >= 0, cap >= 0 and 0 <= jitter <= 1; "
            f"got base={base}, cap={cap}, jitter={jitter}"
        )
    raw = base * 2.0 ** min(attempt - 1, 64)
    spread = (rng or random).uniform(-jitter, jitter)
    if raw >= cap:
        spread = -abs(spread)
    delay = max(0.0, min(cap, raw) * (1.0 + spread))
    if retry_after is not None and retry_after > delay:
        return float(retry_after)
    return delay


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header, or None when absent or not valid.

    RFC 9110 §10.2.3 allows delay-seconds (a non-negative integer: "120") or an HTTP date. Any
    other value ("1.5", "-5", "soon") is ignored, so the caller's own backoff applies; a date in
    the past means 0.
    """
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
