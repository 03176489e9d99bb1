"""Repository functions for runs and feeds (health included), keyword-only arguments.

Like `storage.repository`, none of them commits: the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from monitors.clock import utcnow
from monitors.kinds import FeedStatus
from storage.models import (
    Feed,
    Run,
)


# --- runs ----------------------------------------------------------------------------------
def start_run(
    session: Session, *, monitor: str, flow_run_id: str | None, shard: str | None = None
) -> Run:
    """Record the start of a monitoring pass (of one shard of the feeds, if given)."""
    run = Run(monitor=monitor, flow_run_id=flow_run_id, shard=shard, started_at=utcnow())
    session.add(run)
    session.flush()
    return run


def finish_run(session: Session, *, run_id: int, summary: dict[str, Any]) -> None:
    """Record the end of a pass and its summary."""
    run = session.get(Run, run_id)
    if run is None:
        raise KeyError(f"run {run_id} not found")
    run.finished_at = utcnow()
    run.summary = summary
    session.add(run)


def list_runs(session: Session, *, monitor: str) -> list[Run]:
    """The recorded passes of a monitor, oldest first."""
    return list(session.exec(select(Run).where(Run.monitor == monitor).order_by(col(Run.id))))


# --- feeds ---------------------------------------------------------------------------------
def sync_feeds(session: Session, *, monitor: str, feeds: Sequence[tuple[str, str]]) -> list[Feed]:
    """Create feed rows for (name, url) pairs not yet stored; a changed URL resets the state."""
    existing = {f.name: f for f in session.exec(select(Feed).where(Feed.monitor == monitor))}
    out = []
    try:
        with session.begin_nested():  # a savepoint: a clash drops only this, not the caller's
            for name, url in feeds:
                feed = existing.get(name)
                if feed is None:
                    feed = Feed(monitor=monitor, name=name, url=url)
                    session.add(feed)
                elif feed.url != url:
                    feed.url = url
                    feed.current_url = None
                    feed.etag = None
                    feed.last_modified = None
                    feed.status = FeedStatus.NEW
                    feed.disabled_reason = None
                    feed.consecutive_failures = 0
                    feed.next_due_at = None
                    session.add(feed)
                out.append(feed)
    except IntegrityError:  # another run created it first
        return sync_feeds(session, monitor=monitor, feeds=feeds)
    return out


def get_feed(session: Session, *, monitor: str, name: str) -> Feed:
    """The stored feed `name` of `monitor`."""
    feed = session.exec(select(Feed).where(Feed.monitor == monitor, Feed.name == name)).first()
    if feed is None:
        raise KeyError(f"feed {name!r} of monitor {monitor!r} is not stored")
    return feed


def list_feeds(session: Session, *, monitor: str | None = None) -> list[Feed]:
    """All stored feeds (of one monitor when given), by monitor and name."""
    q = select(Feed).order_by(col(Feed.monitor), col(Feed.name))
    if monitor is not None:
        q = q.where(Feed.monitor == monitor)
    return list(session.exec(q))


def save_feed(session: Session, *, feed: Feed) -> Feed:
    """Persist a feed's changed state (flushed in the caller's transaction)."""
    session.add(feed)
    session.flush()
    return feed


# --- unfinished runs (crash recovery) ------------------------------------------------------
def unfinished_runs(session: Session, *, monitor: str, flow_run_id: str | None = None) -> list[Run]:
    """Runs of the monitor that started and never recorded their end (optionally one flow run's)."""
    q = select(Run).where(col(Run.monitor) == monitor, col(Run.finished_at).is_(None))
    if flow_run_id is not None:
        q = q.where(col(Run.flow_run_id) == flow_run_id)
    return list(session.exec(q.order_by(col(Run.id))))


def close_run(session: Session, *, run: Run, status: str, headline: str) -> None:
    """Record that a run ended without a summary of its own (crashed, failed)."""
    run.finished_at = utcnow()
    run.summary = {"status": status, "headline": headline}
    session.add(run)
