"""Tests of monitors.retry: one backoff, one Retry-After parser, and both users of them."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from monitors.delivery import SlackSender
from monitors.errors import HTTPStatusError, TransientDeliveryError
from monitors.fetch_settings import FetchSettings
from monitors.httpclient import Fetcher
from monitors.polling import FeedState
from monitors.retry import parse_retry_after, retry_delay
from tests.support.fetching import INTERVAL, NOW, poll
from tests.support.httpserver import LocalHTTPServer, Response


def test_retry_delay_grows_exponentially_up_to_the_cap():
    delays = [retry_delay(n, jitter=0) for n in range(1, 10)]
    assert delays == [60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]
    assert retry_delay(10_000, jitter=0) == 3600  # no overflow


def test_retry_delay_jitter_bounds_and_determinism():
    rng = random.Random(7)
    samples = [retry_delay(1, rng=rng) for _ in range(500)]
    assert all(54 <= d <= 66 for d in samples)
    assert max(samples) - min(samples) > 6  # it does spread
    capped = [retry_delay(20, rng=rng) for _ in range(200)]
    assert all(3240 <= d <= 3600 for d in capped)
    assert retry_delay(3, rng=random.Random(1)) == retry_delay(3, rng=random.Random(1))


def test_retry_delay_never_less_than_retry_after():
    assert retry_delay(1, retry_after=500, jitter=0) == 500
    assert retry_delay(1, retry_after=7200) == 7200  # the server's word beats the cap
    assert retry_delay(5, retry_after=3, jitter=0) == 960
    with pytest.raises(ValueError, match="attempt counts failed tries from 1"):
        retry_delay(0)
    with pytest.raises(ValueError, match="jitter"):
        retry_delay(1, jitter=2)


def test_jitter_at_the_cap_only_shortens_and_still_spreads():
    rng = random.Random(0)
    capped = [retry_delay(n, base=3600, cap=7200, rng=rng) for n in range(2, 12)]
    assert all(0.9 * 7200 <= d <= 7200 for d in capped)
    assert len(set(capped)) == len(capped)  # failing feeds do not retry in lockstep


def test_parse_retry_after_forms() -> None:
    now = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(" 0 ") == 0.0
    assert parse_retry_after("Fri, 01 Mar 2024 12:10:00 GMT", now=now) == 600.0
    assert parse_retry_after("Fri, 01 Mar 2024 11:00:00 GMT", now=now) == 0.0  # past: now
    # RFC 9110: delay-seconds is a non-negative integer; anything else is ignored (the
    # caller's own backoff applies), in fetching and in delivery alike.
    for bad in ("1.5", "-5", "soon", "", "١٢", None):
        assert parse_retry_after(bad) is None, bad


def test_feed_backoff_grows_exponentially_and_is_capped(server: LocalHTTPServer) -> None:
    server.route("/feed", Response(500, b"down"))
    cap = timedelta(minutes=120)
    state = FeedState(url=server.url("/feed"))
    waits = []
    with Fetcher(FetchSettings(max_backoff_minutes=120, connect_timeout=1.0)) as fetcher:
        for _ in range(5):
            result = poll(fetcher, state.url, state)
            state = result.state
            assert state.next_due_at is not None
            waits.append(state.next_due_at - NOW)
    assert 0.9 * 2 * INTERVAL <= waits[0] <= 1.1 * 2 * INTERVAL  # 60 min after one failure
    assert 0.9 * 4 * INTERVAL <= waits[1] <= 1.1 * 4 * INTERVAL
    assert all(w <= cap for w in waits)


@pytest.mark.parametrize("value", ["1.5", "soon"])
def test_a_retry_after_that_is_not_valid_is_ignored_by_both_users(
    server: LocalHTTPServer, value: str
) -> None:
    server.route("/feed", Response(429, b"slow down", {"Retry-After": value}))
    with Fetcher(FetchSettings()) as fetcher, pytest.raises(HTTPStatusError) as fetched:
        fetcher.get(server.url("/feed"), kind="feed")
    assert fetched.value.status == 429 and fetched.value.retry_after is None
    hook = f"/services/T1/B2/{value}"
    server.route(hook, Response(429, b"rate_limited", {"Retry-After": value}))
    with pytest.raises(TransientDeliveryError) as sent:
        SlackSender(server.url(hook), min_interval=0).send({"text": "x"})
    assert sent.value.retry_after is None
