"""Stage 2 of a pass: poll one feed, record its state, fetch the pages of entries not stored."""

from __future__ import annotations

import itertools
import random
import statistics
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session

from monitors.clock import as_utc
from monitors.config import MonitorConfig
from monitors.errors import FetchError
from monitors.extract import ExtractJob
from monitors.httpclient import Fetcher
from monitors.kinds import FeedStatus, PollStatus
from monitors.polling import FeedState, fetch_pages, poll_feed
from monitors.records import FeedItem
from storage import repo_feeds
from storage import repository as repo
from storage.db import session_scope
from storage.models import Article, Feed

#: Entries needed to estimate a feed's cadence from its publication dates.
MIN_GAPS_FOR_CADENCE = 4
#: ExtractJob.fetch_error of an entry whose page another feed of the run is fetching.
ALREADY_CLAIMED = "page fetched through another feed in this run"


@dataclass
class HarvestItem:
    """One entry to process: the feed entry, its page (or why there is none), new or changed."""

    item: FeedItem
    job: ExtractJob
    changed: bool = False


@dataclass
class Harvest:
    """The outcome of polling one feed: status, message and the entries to process."""

    feed: str
    status: PollStatus
    message: str
    items_seen: int = 0
    items: list[HarvestItem] = field(default_factory=list)
    also_seen: int = 0
    possible_gap: bool = False
    #: the feed's new (ETag, Last-Modified), saved only once the entries they cover are stored
    validators: tuple[str | None, str | None] | None = None

    @property
    def new_count(self) -> int:
        """Entries not stored before."""
        return sum(not h.changed for h in self.items)


def known_articles(
    session: Session, *, monitor: str, items: Sequence[FeedItem]
) -> dict[str, Article]:
    """The stored article of each item already known (by canonical URL or GUID), by item URL."""
    found = repo.find_known_items(
        session,
        monitor=monitor,
        urls=[i.url for i in items],
        guids=[i.guid for i in items if i.guid],
    )
    out: dict[str, Article] = {}
    for i in items:
        stored = found.get(i.url) or (found.get(f"guid:{i.guid}") if i.guid else None)
        if stored is not None:
            out[i.url] = stored
    return out


def _state_from_row(feed: Feed) -> FeedState:
    return FeedState(
        url=feed.current_url or feed.url,
        etag=feed.etag,
        last_modified=feed.last_modified,
        polls_since_full=feed.polls_since_full,
        consecutive_failures=feed.consecutive_failures,
        next_due_at=as_utc(feed.next_due_at),
        disabled_reason=feed.disabled_reason,
        last_success_at=as_utc(feed.last_success_at),
        last_error=feed.last_error,
    )


def _apply_state(
    feed: Feed, state: FeedState, *, status: PollStatus, now: datetime, full_every: int
) -> None:
    feed.current_url = state.url if state.url != feed.url else None
    feed.etag = state.etag
    feed.last_modified = state.last_modified
    feed.polls_since_full = state.polls_since_full
    if feed.poll_count == 0 and full_every > 1:
        # stagger the forced full fetches: feeds added together would otherwise all do theirs
        # on the same pass, every `force_full_fetch_every` polls
        feed.polls_since_full = zlib.crc32(feed.name.encode()) % full_every
    feed.consecutive_failures = state.consecutive_failures
    feed.next_due_at = state.next_due_at
    feed.disabled_reason = state.disabled_reason
    feed.last_success_at = state.last_success_at
    feed.last_error = state.last_error
    feed.last_polled_at = now
    feed.poll_count += 1
    if status == PollStatus.GONE:
        feed.status = FeedStatus.DISABLED
    elif status == PollStatus.FAILED:
        feed.status = FeedStatus.FAILING
    else:
        feed.status = FeedStatus.OK


def save_validators(cfg: MonitorConfig, engine: Engine, harvests: list[Harvest]) -> int:
    """Save the validators held back by `harvest_feed`, once their entries are stored."""
    held = [h for h in harvests if h.validators is not None]
    with session_scope(engine) as s:
        for h in held:
            feed = repo_feeds.get_feed(s, monitor=cfg.name, name=h.feed)
            feed.etag, feed.last_modified = h.validators or (None, None)
            repo_feeds.save_feed(s, feed=feed)
    return len(held)


def harvest_feed(
    cfg: MonitorConfig,
    engine: Engine,
    fetcher: Fetcher,
    *,
    feed_name: str,
    now: datetime,
    rng: random.Random | None = None,
) -> Harvest:
    """Poll one feed, record its state, and fetch the pages of entries not stored yet."""
    fc = cfg.feed(feed_name)
    interval = timedelta(minutes=fc.poll_interval_minutes or cfg.poll_interval_minutes)
    new: list[FeedItem] = []
    changed: list[FeedItem] = []
    with Session(engine) as s:  # read the state; the poll itself runs outside a transaction
        state = _state_from_row(repo_feeds.get_feed(s, monitor=cfg.name, name=feed_name))
    result = poll_feed(
        fetcher,
        feed_name=feed_name,
        state=state,
        now=now,
        interval=interval,
        settings=cfg.fetch,
        rng=rng,
    )
    status = PollStatus(result.status)
    with session_scope(engine) as s:  # record the poll and the entries' sources: one unit
        feed = repo_feeds.get_feed(s, monitor=cfg.name, name=feed_name)
        old_validators = (feed.etag, feed.last_modified)
        _apply_state(
            feed,
            result.state,
            status=status,
            now=now,
            full_every=cfg.fetch.force_full_fetch_every,
        )
        harvest = Harvest(feed=feed_name, status=status, message=result.message)
        if status != PollStatus.OK:
            repo_feeds.save_feed(s, feed=feed)
            return harvest
        items = _unique_items(result.items)
        harvest.items_seen = len(items)
        feed.typical_gap_seconds = typical_gap(items) or feed.typical_gap_seconds
        known = known_articles(s, monitor=cfg.name, items=items)
        sourced = repo.sources_of_feed(
            s, feed_id=feed.id or 0, article_ids=[a.id for a in known.values() if a.id]
        )
        for item in items:
            stored = known.get(item.url)
            if stored is None:
                new.append(item)
            elif stored.content_hash != item.content_hash:
                changed.append(item)
            elif (
                stored.id is not None
                and feed.id is not None
                # the same article through another feed is stored once and remembers both
                and repo.add_article_source(
                    s,
                    article_id=stored.id,
                    feed_id=feed.id,
                    link=item.link,
                    guid=item.guid,
                    known=sourced,
                )
            ):
                harvest.also_seen += 1
        if new:
            feed.last_new_item_at = now
            if len(new) == len(items) > 1 and feed.last_success_at and not known:
                # every entry is new on a feed polled before: the window may have overflowed
                harvest.possible_gap = feed.poll_count > 1
                feed.possible_gaps += int(harvest.possible_gap)
        if new or changed:
            # a crash before these entries are stored must not leave a 304 for the next run
            harvest.validators = (feed.etag, feed.last_modified)
            feed.etag, feed.last_modified = old_validators
        repo_feeds.save_feed(s, feed=feed)
    todo = [(i, False) for i in new] + [(i, True) for i in changed]
    # pages are fetched by the link as published (tracking parameters and all), not the
    # canonical URL: some sites answer only the former. An entry listed by several feeds is
    # downloaded once per run: the first feed to claim it fetches it.
    mine = [i for i, _ in todo if fetcher.claim(i.url)]
    pages = fetch_pages(fetcher, [i.link for i in mine]) if mine else {}
    for item, is_changed in todo:
        page = pages.get(item.link)
        if item not in mine:
            html, error = None, ALREADY_CLAIMED
        elif isinstance(page, FetchError) or page is None:
            html, error = None, str(page) if page is not None else "not fetched"
        else:
            html, error = page.content, None
        job = ExtractJob(
            url=item.url,
            html=html,
            fallback_title=item.title,
            fallback_summary=item.summary,
            fetch_error=error,
        )
        harvest.items.append(HarvestItem(item=item, job=job, changed=is_changed))
    return harvest


def _unique_items(items: list[FeedItem]) -> list[FeedItem]:
    seen: set[str] = set()
    out = []
    for i in items:
        if i.url in seen:
            continue
        seen.add(i.url)
        out.append(i)
    return out


def typical_gap(items: list[FeedItem]) -> float | None:
    """Median seconds between consecutive dated entries of a feed (its cadence), if measurable."""
    dates = sorted(i.published for i in items if i.published is not None)
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(dates)]
    gaps = [g for g in gaps if g > 0]
    if len(gaps) < MIN_GAPS_FOR_CADENCE:
        return None
    return float(statistics.median(gaps))
