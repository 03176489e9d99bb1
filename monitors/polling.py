"""Polling a feed: one poll of one feed becomes a `PollResult` and the feed's next `FeedState`.

Conditional GET (with a periodic unconditional fetch, because servers get validators wrong),
301/308 moves, 410 Gone, exponential backoff with jitter (`monitors.retry`), Retry-After and
Cache-Control max-age. `poll_feed` never raises for a feed-level failure. `fetch_pages` fetches
the article pages of the new entries concurrently.
"""

from __future__ import annotations

import dataclasses
import random
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from monitors.errors import FetchError, HTTPStatusError
from monitors.feeds import parse_feed
from monitors.fetch_settings import FetchSettings
from monitors.httpclient import Fetcher, FetchResponse
from monitors.records import FeedItem
from monitors.retry import retry_delay

_MAX_AGE = re.compile(r"(?:^|[,\s])max-age\s*=\s*\"?(\d+)", re.I)


def fetch_pages(
    fetcher: Fetcher, urls: list[str], *, max_workers: int = 8
) -> dict[str, FetchResponse | FetchError]:
    """Fetch article pages concurrently; each URL maps to its response or its FetchError.

    The per-host limit of the fetcher still applies, so many links to one site queue politely.
    Duplicate URLs are fetched once.
    """
    unique = list(dict.fromkeys(urls))
    if not unique:
        return {}

    def one(u: str) -> FetchResponse | FetchError:
        try:
            return fetcher.get(u, kind="page")
        except FetchError as exc:
            return exc

    with ThreadPoolExecutor(
        max_workers=max(1, min(max_workers, len(unique))), thread_name_prefix="newsmon-page"
    ) as pool:
        return dict(zip(unique, pool.map(one, unique), strict=True))


@dataclass(slots=True)
class FeedState:
    """What newsmon remembers about a feed between polls."""

    url: str
    etag: str | None = None
    last_modified: str | None = None
    polls_since_full: int = 0
    consecutive_failures: int = 0
    next_due_at: datetime | None = None
    disabled_reason: str | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None


@dataclass(slots=True)
class PollResult:
    """The outcome of one poll: status, items (when ok), the feed's new state, a message."""

    feed_name: str
    status: Literal["ok", "not_modified", "failed", "gone"]
    items: list[FeedItem]
    state: FeedState
    error: FetchError | None
    message: str
    moved_to: str | None = None


def _success_delay(
    interval: timedelta, headers: dict[str, str], settings: FetchSettings
) -> timedelta:
    m = _MAX_AGE.search(headers.get("cache-control", ""))
    if not m:
        return interval
    max_age = min(float(m.group(1)), settings.max_cache_minutes * 60.0)
    return max(interval, timedelta(seconds=max_age))


def poll_feed(
    fetcher: Fetcher,
    *,
    feed_name: str,
    state: FeedState,
    now: datetime,
    interval: timedelta,
    settings: FetchSettings,
    rng: random.Random | None = None,
) -> PollResult:
    """Poll one feed once; never raises for feed-level failures (status "failed"/"gone")."""
    rng = rng or random.Random()
    new = dataclasses.replace(state)
    full = (
        state.etag is None and state.last_modified is None
    ) or state.polls_since_full + 1 >= settings.force_full_fetch_every
    headers: dict[str, str] = {}
    if not full:
        if state.etag:
            headers["If-None-Match"] = state.etag
        if state.last_modified:
            headers["If-Modified-Since"] = state.last_modified
    try:
        response = fetcher.get(state.url, kind="feed", headers=headers)
        items: list[FeedItem] = []
        if response.status != 304:
            items = parse_feed(
                response.content,
                feed_name=feed_name,
                url=response.final_url,
                content_type=response.headers.get("content-type"),
            )
    except FetchError as exc:
        return _failed(new, exc, feed_name=feed_name, now=now, interval=interval,
                       settings=settings, rng=rng)  # fmt: skip

    moved_to = response.permanent_redirect
    if moved_to:
        new.url = moved_to
    new.polls_since_full = 0 if full else state.polls_since_full + 1
    new.consecutive_failures = 0
    new.last_error = None
    new.last_success_at = now
    new.next_due_at = now + _success_delay(interval, response.headers, settings)
    moved = (
        f"; it moved permanently to {moved_to} (newsmon now polls the new URL; update the "
        "monitor file)"
        if moved_to
        else ""
    )
    if response.status == 304:
        # a 304 may carry refreshed validators (RFC 9110 15.4.5)
        new.etag = response.headers.get("etag", state.etag)
        new.last_modified = response.headers.get("last-modified", state.last_modified)
        return PollResult(
            feed_name, "not_modified", [], new, None,
            f"Feed {feed_name!r} not modified since the last poll (304){moved}",
            moved_to,
        )  # fmt: skip
    new.etag = response.headers.get("etag")
    new.last_modified = response.headers.get("last-modified")
    return PollResult(
        feed_name, "ok", items, new, None,
        f"Feed {feed_name!r}: {len(items)} entries from {response.final_url}"
        f"{' (unconditional fetch)' if full and state.etag else ''}{moved}",
        moved_to,
    )  # fmt: skip


def _failed(
    new: FeedState,
    exc: FetchError,
    *,
    feed_name: str,
    now: datetime,
    interval: timedelta,
    settings: FetchSettings,
    rng: random.Random,
) -> PollResult:
    if isinstance(exc, HTTPStatusError) and exc.status == 410:
        reason = (
            f"Feed {feed_name!r} ({new.url}) returned 410 Gone; the feed was disabled; "
            "remove it from the monitor file or fix the URL"
        )
        new.consecutive_failures += 1
        new.disabled_reason = reason
        new.last_error = reason
        new.next_due_at = None
        return PollResult(feed_name, "gone", [], new, exc, reason)
    new.consecutive_failures += 1
    # interval x 2^failures (2 intervals after the first failure), capped, with jitter
    wait = retry_delay(
        new.consecutive_failures,
        base=2 * interval.total_seconds(),
        cap=settings.max_backoff_minutes * 60.0,
        rng=rng,
    )
    due = now + timedelta(seconds=wait)
    if (
        isinstance(exc, HTTPStatusError)
        and exc.status in (429, 503)
        and exc.retry_after is not None
    ):
        wait = min(exc.retry_after, settings.max_retry_after_minutes * 60.0)
        due = max(due, now + timedelta(seconds=wait))
    new.next_due_at = due
    message = (
        f"Feed {feed_name!r} failed ({new.consecutive_failures} in a row): {exc}; "
        f"next poll at {due.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    )
    new.last_error = message
    return PollResult(feed_name, "failed", [], new, exc, message)
