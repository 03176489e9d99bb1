"""The simulated clock used to replay past news (`newsmon run --as-of`)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from monitors.clock import simulated_time, utcnow

AS_OF = datetime(2023, 8, 24, 12, 0, tzinfo=UTC)


def test_simulated_time_runs_from_as_of_at_the_wall_clock_pace_and_is_restored() -> None:
    before = utcnow()
    with simulated_time(AS_OF):
        first = utcnow()
        time.sleep(0.05)
        second = utcnow()
    after = utcnow()
    assert timedelta(0) <= first - AS_OF < timedelta(seconds=5)
    assert timedelta(seconds=0.04) <= second - first < timedelta(seconds=5)
    assert after >= before and after.year >= 2025  # back on the wall clock


def test_naive_as_of_is_taken_as_utc_and_none_leaves_the_clock_alone() -> None:
    with simulated_time(AS_OF.replace(tzinfo=None)):
        assert abs(utcnow() - AS_OF) < timedelta(seconds=5)
        assert utcnow().tzinfo is not None
    with simulated_time(None):
        assert utcnow().year >= 2025
