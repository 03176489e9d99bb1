"""Stage 5 of a pass: feed health, one alert when a feed keeps failing, is gone or falls
silent, and one notice when it recovers."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.engine import Engine

from monitors.alerts import AlertContent, SourceLink
from monitors.alerts import AlertKind as ContentKind
from monitors.clock import as_utc
from monitors.config import MonitorConfig
from monitors.kinds import AlertKind, FeedStatus
from pipeline.outbox import alert_channels, queue_alert
from storage import repo_feeds
from storage.db import session_scope
from storage.models import Feed

#: Consecutive failed polls after which a feed raises one feed-health alert.
FEED_FAILURE_ALERT_AFTER = 3
#: A feed is "silent" after this many typical gaps without a new item...
SILENCE_FACTOR = 10
#: ...and never before this long (a feed with one item an hour is not silent after 10 hours
#: overnight).
SILENCE_MIN = timedelta(hours=24)


def feed_problem(
    feed: Feed, *, now: datetime, silence_alerts: bool
) -> tuple[FeedStatus, str, str] | None:
    """(status, headline, explanation) when a feed needs attention: disabled, failing, silent."""
    if feed.status == FeedStatus.DISABLED:
        return (
            FeedStatus.DISABLED,
            f"Feed {feed.name} is disabled",
            feed.disabled_reason or "disabled",
        )
    if feed.consecutive_failures >= FEED_FAILURE_ALERT_AFTER:
        return (
            FeedStatus.FAILING,
            f"Feed {feed.name} failed {feed.consecutive_failures} polls in a row",
            feed.last_error or "no error recorded",
        )
    last_new = as_utc(feed.last_new_item_at)
    if silence_alerts and last_new is not None and feed.typical_gap_seconds:
        quiet_for = (now - last_new).total_seconds()
        limit = max(SILENCE_MIN.total_seconds(), SILENCE_FACTOR * feed.typical_gap_seconds)
        if quiet_for > limit:
            return (
                FeedStatus.SILENT,
                f"Feed {feed.name} has gone silent",
                f"no new item since {last_new:%Y-%m-%d %H:%M} UTC ({quiet_for / 3600:.0f} h); "
                f"it usually publishes every {feed.typical_gap_seconds / 3600:.1f} h. "
                "Check that the feed URL still lists new articles.",
            )
    return None


def check_feed_health(
    cfg: MonitorConfig,
    engine: Engine,
    *,
    run_id: int | None,
    now: datetime,
    run_url: str | None = None,
) -> list[str]:
    """Open one feed-health alert when a feed keeps failing (or is gone), one notice on recovery."""
    channels = alert_channels(cfg)
    changes = []
    with session_scope(engine) as s:
        for feed in repo_feeds.list_feeds(s, monitor=cfg.name):
            problem = feed_problem(feed, now=now, silence_alerts=cfg.silence_alerts)
            if (
                problem is not None
                and problem[0] == FeedStatus.SILENT
                and feed.status == FeedStatus.OK
            ):
                feed.status = FeedStatus.SILENT
                s.add(feed)
            kind: ContentKind
            if problem is not None and not feed.health_alert_open:
                feed.health_alert_open = True
                feed.health_episode += 1
                kind = "feed_health"
                _, headline, summary = problem
            elif feed.health_alert_open and problem is None:
                feed.health_alert_open = False
                kind = "feed_recovered"
                headline = f"Feed {feed.name} recovered"
                summary = f"Polled successfully at {now:%Y-%m-%d %H:%M} UTC."
            else:
                continue
            s.add(feed)
            content = AlertContent(
                monitor=cfg.name,
                kind=kind,
                headline=headline,
                summary=summary,
                sources=[
                    SourceLink(
                        title=feed.name,
                        url=feed.current_url or feed.url,
                        outlet=cfg.feed(feed.name).outlet_name
                        if any(f.name == feed.name for f in cfg.feeds)
                        else "",
                    )
                ],
                run_url=run_url,
            )
            for ch in channels:
                queue_alert(
                    s,
                    monitor=cfg.name,
                    channel=ch,
                    kind=AlertKind(kind),
                    dedup_key=f"feed:{feed.id}:{feed.health_episode}",
                    content=content,
                    now=now,
                    run_id=run_id,
                    feed_id=feed.id,
                )
            changes.append(f"{headline}: {summary}")
    return changes
