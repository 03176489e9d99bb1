"""Helpers of the fetching tests: RSS documents, small-limit settings, one poll at a fixed time.

Feeds are served on 127.0.0.1 (a feed's own host is trusted). Article pages are served on
PAGE_HOST = 127.0.0.2 with allow_networks=["127.0.0.2/32"], so the SSRF guard is live for every
other address, including 127.0.0.1 (all of 127/8 is bound to lo on Linux).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from monitors.fetch_settings import FetchSettings
from monitors.httpclient import Fetcher
from monitors.polling import FeedState, PollResult, poll_feed

NOW = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


INTERVAL = timedelta(minutes=30)


PAGE_HOST = "127.0.0.2"


RSS = "application/rss+xml; charset=utf-8"


def rss(*items: tuple[str, str], encoding: str = "utf-8", decl: str | None = None) -> bytes:
    """An RSS 2.0 document with (title, link) items, encoded as asked."""
    head = decl if decl is not None else f'<?xml version="1.0" encoding="{encoding}"?>'
    body = "".join(
        f"<item><title>{t}</title><link>{link}</link><guid>{link}</guid>"
        f"<description>&lt;p&gt;About {t}&lt;/p&gt;</description>"
        "<pubDate>Fri, 01 Mar 2024 10:00:00 GMT</pubDate></item>"
        for t, link in items
    )
    doc = f'{head}<rss version="2.0"><channel><title>T</title>{body}</channel></rss>'
    return doc.encode(encoding)


FEED = rss(("One", "https://example.com/one?utm_source=rss"), ("Two", "https://example.com/two"))


def settings(**kw: object) -> FetchSettings:
    """Small limits so every fault resolves in about a second."""
    base: dict[str, object] = {
        "connect_timeout": 1.0,
        "read_timeout": 1.5,
        "total_timeout": 3.0,
        "allow_networks": [f"{PAGE_HOST}/32"],
    }
    base.update(kw)
    return FetchSettings.model_validate(base)


def poll(
    fetcher: Fetcher,
    url: str,
    state: FeedState | None = None,
    *,
    name: str = "Test Feed",
    **kw: Any,
) -> PollResult:
    """One poll of the feed at `url` at NOW, with a fixed random seed."""
    return poll_feed(
        fetcher,
        feed_name=name,
        state=state or FeedState(url=url),
        now=NOW,
        interval=INTERVAL,
        settings=fetcher.settings,
        rng=random.Random(1),
        **kw,
    )
