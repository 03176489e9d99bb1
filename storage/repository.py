"""Repository functions: every read and write of newsmon's tables, keyword-only arguments.

None of them commits: the caller (the pass, the CLI) owns the transaction, usually through
`storage.db.session_scope`; they flush where an id or a constraint check is needed now.
Writes that must be at-most-once (an article per URL, an alert per development and channel)
rely on the database's unique constraints, so overlapping runs cannot duplicate them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from monitors.clock import utcnow
from monitors.kinds import AlertStatus, AttemptOutcome, DevelopmentStatus, FeedStatus
from storage.models import (
    Alert,
    Article,
    ArticleSource,
    ArticleVersion,
    DeliveryAttempt,
    Development,
    Feed,
    Run,
    SeedDocument,
    TopicTag,
)


# --- runs ----------------------------------------------------------------------------------
def start_run(session: Session, *, monitor: str, flow_run_id: str | None) -> Run:
    """Record the start of a monitoring pass."""
    run = Run(monitor=monitor, flow_run_id=flow_run_id, started_at=utcnow())
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


# --- seeds ---------------------------------------------------------------------------------
def sync_seeds(
    session: Session, *, monitor: str, seeds: Iterable[dict[str, Any]]
) -> list[SeedDocument]:
    """Store seed documents (dicts of SeedDocument fields), updating changed ones by seed_id."""
    existing = {
        s.seed_id: s
        for s in session.exec(select(SeedDocument).where(SeedDocument.monitor == monitor))
    }
    out = []
    seeds = list(seeds)
    try:
        with session.begin_nested():  # a savepoint: a clash drops only this, not the caller's
            for data in seeds:
                doc = existing.get(data["seed_id"])
                if doc is None:
                    doc = SeedDocument(monitor=monitor, **data)
                elif any(getattr(doc, k) != v for k, v in data.items()):
                    for k, v in data.items():
                        setattr(doc, k, v)
                else:
                    out.append(doc)
                    continue
                session.add(doc)
                out.append(doc)
    except IntegrityError:  # another run stored them first
        return sync_seeds(session, monitor=monitor, seeds=seeds)
    return out


def list_seeds(session: Session, *, monitor: str) -> list[SeedDocument]:
    """The stored seed documents of a monitor."""
    q = (
        select(SeedDocument)
        .where(SeedDocument.monitor == monitor)
        .order_by(col(SeedDocument.seed_id))
    )
    return list(session.exec(q))


# --- articles ------------------------------------------------------------------------------
def find_known_items(
    session: Session, *, monitor: str, urls: Sequence[str], guids: Sequence[str]
) -> dict[str, Article]:
    """Stored articles matching any of the canonical URLs or GUIDs, keyed by URL and by GUID.

    Two queries (URL, then GUID) rather than one OR, so each uses its own index.
    """
    out: dict[str, Article] = {}
    chunk = 500
    for column, values in ((Article.url, list(urls)), (Article.guid, list(guids))):
        for i in range(0, len(values), chunk):
            q = select(Article).where(
                Article.monitor == monitor, col(column).in_(values[i : i + chunk])
            )
            for a in session.exec(q):
                out[a.url] = a
                if a.guid:
                    out[f"guid:{a.guid}"] = a
    return out


def sources_of_feed(session: Session, *, feed_id: int, article_ids: Sequence[int]) -> set[int]:
    """Which of `article_ids` are already recorded as found through `feed_id`."""
    if not article_ids:
        return set()
    q = select(ArticleSource.article_id).where(
        ArticleSource.feed_id == feed_id, col(ArticleSource.article_id).in_(list(article_ids))
    )
    return set(session.exec(q))


def add_article_source(
    session: Session,
    *,
    article_id: int,
    feed_id: int,
    link: str,
    guid: str | None,
    known: set[int] | None = None,
) -> bool:
    """Remember that `article_id` was also found through `feed_id`; False if already known.

    `known` (from `sources_of_feed`) saves the lookup when many entries are checked at once.
    """
    if known is not None:
        if article_id in known:
            return False
        known.add(article_id)
    elif session.exec(
        select(ArticleSource.id).where(
            ArticleSource.article_id == article_id, ArticleSource.feed_id == feed_id
        )
    ).first():
        return False
    session.add(
        ArticleSource(
            article_id=article_id, feed_id=feed_id, link=link, guid=guid, first_seen_at=utcnow()
        )
    )
    return True


def record_version(session: Session, *, article: Article) -> ArticleVersion:
    """Keep the article's current content as a version before it is overwritten."""
    v = ArticleVersion(
        article_id=article.id or 0,
        version=article.version,
        title=article.title,
        summary=article.summary,
        text=article.text,
        content_hash=article.content_hash,
        seen_at=article.updated_at,
    )
    session.add(v)
    return v


def list_articles(
    session: Session, *, monitor: str | None = None, limit: int | None = None
) -> list[Article]:
    """Stored articles, oldest first."""
    q = select(Article).order_by(col(Article.id))
    if monitor is not None:
        q = q.where(Article.monitor == monitor)
    if limit is not None:
        q = q.limit(limit)
    return list(session.exec(q))


def iter_article_texts(
    session: Session, *, monitor: str, batch: int = 2000
) -> Iterable[tuple[int, str, str]]:
    """(id, title, text) of every stored article, in id order, streamed in batches."""
    last = 0
    while True:
        q = (
            select(Article.id, Article.title, Article.text)
            .where(Article.monitor == monitor, col(Article.id) > last)
            .order_by(col(Article.id))
            .limit(batch)
        )
        rows = list(session.exec(q))
        if not rows:
            return
        for aid, title, text in rows:
            yield int(aid or 0), title, text
        last = int(rows[-1][0] or 0)


def tags_for(session: Session, *, article_ids: Sequence[int]) -> dict[int, list[TopicTag]]:
    """Topic tags of the given articles."""
    out: dict[int, list[TopicTag]] = {}
    if not article_ids:
        return out
    for t in session.exec(select(TopicTag).where(col(TopicTag.article_id).in_(list(article_ids)))):
        out.setdefault(t.article_id, []).append(t)
    return out


# --- developments --------------------------------------------------------------------------
def list_developments(
    session: Session,
    *,
    monitor: str,
    since: datetime | None = None,
    status: str | None = None,
) -> list[Development]:
    """Developments of a monitor (seen since `since`, of `status`), oldest first."""
    q = select(Development).where(Development.monitor == monitor)
    if since is not None:
        known = col(Development.status) == DevelopmentStatus.KNOWN
        q = q.where(or_(col(Development.last_seen_at) >= since, known))
    if status is not None:
        q = q.where(Development.status == status)
    return list(session.exec(q.order_by(col(Development.id))))


def ensure_seed_development(
    session: Session, *, monitor: str, seed_id: str, title: str, topics: list[str]
) -> Development:
    """The "known" development standing for a seed article (created once per seed)."""
    q = select(Development).where(Development.monitor == monitor, Development.seed_ref == seed_id)
    dev = session.exec(q).first()
    if dev is not None:
        return dev
    now = utcnow()
    dev = Development(
        monitor=monitor,
        title=title,
        status=DevelopmentStatus.KNOWN,
        first_seen_at=now,
        last_seen_at=now,
        topics=topics,
        seed_ref=seed_id,
        seed_score=100.0,
    )
    try:
        with session.begin_nested():  # a savepoint: a clash drops only this, not the caller's
            session.add(dev)
    except IntegrityError:  # another run created it first
        found = session.exec(q).first()
        if found is None:
            raise
        return found
    return dev


def first_articles(session: Session, *, development_ids: Sequence[int]) -> dict[int, Article]:
    """The first article (by first_seen_at, then id) of each development, in batched queries."""
    out: dict[int, Article] = {}
    ids = list(development_ids)
    for i in range(0, len(ids), 500):
        q = (
            select(Article)
            .where(col(Article.development_id).in_(ids[i : i + 500]))
            .order_by(col(Article.first_seen_at), col(Article.id))
        )
        for a in session.exec(q):
            if a.development_id is not None:
                out.setdefault(a.development_id, a)
    return out


# --- alerts (outbox) -----------------------------------------------------------------------
def add_alert(session: Session, *, alert: Alert) -> bool:
    """Add an alert to the outbox inside the caller's transaction, unless the same one exists.

    Returns False when (monitor, channel, kind, dedup_key) is already present. Uses a
    savepoint so a concurrent insert by another run only drops this alert, not the transaction.
    """
    exists = session.exec(
        select(Alert.id).where(
            Alert.monitor == alert.monitor,
            Alert.channel == alert.channel,
            Alert.kind == alert.kind,
            Alert.dedup_key == alert.dedup_key,
        )
    ).first()
    if exists is not None:
        return False
    try:
        with session.begin_nested():
            session.add(alert)
    except IntegrityError:
        return False
    return True


def claim_due_alerts(
    session: Session,
    *,
    monitor: str,
    now: datetime,
    lease: timedelta,
    limit: int = 100,
    ids: Sequence[int] | None = None,
) -> list[Alert]:
    """Atomically claim pending alerts that are due (and stale claims past their lease).

    A claim is a conditional UPDATE, so two runs never claim the same alert; the caller commits
    the claims before sending. A run that dies mid-delivery leaves a claim that expires after
    `lease`, and the next run sends it (at most one duplicate, if the first run had sent it
    before dying).
    """
    due = or_(
        (col(Alert.status) == AlertStatus.PENDING)
        & or_(col(Alert.next_attempt_at).is_(None), col(Alert.next_attempt_at) <= now),
        (col(Alert.status) == AlertStatus.SENDING) & (col(Alert.claimed_until) < now),
    )
    q = select(Alert.id).where(Alert.monitor == monitor, due)
    if ids is not None:
        q = q.where(col(Alert.id).in_(list(ids)))
    candidates = list(session.exec(q.order_by(col(Alert.id)).limit(limit)))
    claimed: list[int] = []
    for aid in candidates:
        res = session.execute(
            update(Alert)
            .where(col(Alert.id) == aid, due)
            .values(status=AlertStatus.SENDING, claimed_until=now + lease)
        )
        if getattr(res, "rowcount", 0) == 1:
            claimed.append(int(aid or 0))
    if not claimed:
        return []
    return list(
        session.exec(select(Alert).where(col(Alert.id).in_(claimed)).order_by(col(Alert.id)))
    )


def record_attempt(
    session: Session,
    *,
    alert: Alert,
    outcome: str,
    detail: str,
    now: datetime,
    next_attempt_at: datetime | None = None,
) -> Alert:
    """Record one delivery attempt and move the alert to sent, pending (retry) or dead."""
    session.add(DeliveryAttempt(alert_id=alert.id or 0, at=now, outcome=outcome, detail=detail))
    alert.attempts += 1
    alert.claimed_until = None
    if outcome == AttemptOutcome.SENT:
        alert.status = AlertStatus.SENT
        alert.sent_at = now
        alert.last_error = None
    elif outcome == AttemptOutcome.TRANSIENT and next_attempt_at is not None:
        alert.status = AlertStatus.PENDING
        alert.next_attempt_at = next_attempt_at
        alert.last_error = detail
    else:
        alert.status = AlertStatus.DEAD
        alert.last_error = detail
    session.add(alert)
    return alert


def release_alert(session: Session, *, alert: Alert, until: datetime) -> Alert:
    """Give a claimed alert back, due again at `until`, without counting an attempt."""
    alert.status = AlertStatus.PENDING
    alert.claimed_until = None
    alert.next_attempt_at = until
    session.add(alert)
    return alert


def list_alerts(
    session: Session, *, monitor: str | None = None, status: str | None = None
) -> list[Alert]:
    """Alerts, oldest first (of one monitor / status when given)."""
    q = select(Alert).order_by(col(Alert.id))
    if monitor is not None:
        q = q.where(Alert.monitor == monitor)
    if status is not None:
        q = q.where(Alert.status == status)
    return list(session.exec(q))


def attempts_of(session: Session, *, alert_id: int) -> list[DeliveryAttempt]:
    """Delivery attempts of an alert, in order."""
    q = select(DeliveryAttempt).where(DeliveryAttempt.alert_id == alert_id)
    return list(session.exec(q.order_by(col(DeliveryAttempt.id))))


def requeue_dead_alerts(
    session: Session, *, monitor: str, alert_ids: Sequence[int] | None = None
) -> int:
    """Move dead-lettered alerts back to pending (all, or the given ids); returns how many."""
    q = update(Alert).where(col(Alert.monitor) == monitor, col(Alert.status) == AlertStatus.DEAD)
    if alert_ids:
        q = q.where(col(Alert.id).in_(list(alert_ids)))
    res = session.execute(q.values(status=AlertStatus.PENDING, next_attempt_at=None, attempts=0))
    return int(getattr(res, "rowcount", 0) or 0)
