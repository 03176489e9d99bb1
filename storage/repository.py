"""Repository functions for seeds, articles, tags and developments, keyword-only arguments.

None of them commits: the caller (the pass, the CLI) owns the transaction, usually through
`storage.db.session_scope`; they flush where an id or a constraint check is needed now.
Writes that must be at-most-once (an article per URL, an alert per development and channel)
rely on the database's unique constraints, so overlapping runs cannot duplicate them.
Runs and feeds live in `storage.repo_feeds`, the alert outbox in `storage.repo_alerts`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from monitors.clock import utcnow
from monitors.kinds import DevelopmentStatus
from storage.models import (
    Article,
    ArticleSource,
    ArticleVersion,
    Development,
    SeedDocument,
    TopicTag,
)


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
    # a Core INSERT, executed now (the article is stored already): no ORM object to build
    # and flush for each article of a pass
    table = ArticleSource.__table__  # type: ignore[attr-defined]
    session.connection().execute(
        table.insert(),
        {
            "article_id": article_id,
            "feed_id": feed_id,
            "link": link,
            "guid": guid,
            "first_seen_at": utcnow(),
        },
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


def add_topic_tags(
    session: Session, *, article_id: int, tags: Sequence[tuple[str, list[str], list[str]]]
) -> None:
    """Store an article's topic tags, (topic, terms, evidence) each, in one Core INSERT."""
    if not tags:
        return
    table = TopicTag.__table__  # type: ignore[attr-defined]
    session.connection().execute(
        table.insert(),
        [
            {"article_id": article_id, "topic": topic, "terms": terms, "evidence": evidence}
            for topic, terms, evidence in tags
        ],
    )


def tags_for(session: Session, *, article_ids: Sequence[int]) -> dict[int, list[TopicTag]]:
    """Topic tags of the given articles."""
    out: dict[int, list[TopicTag]] = {}
    if not article_ids:
        return out
    ids = list(article_ids)
    for i in range(0, len(ids), 500):
        for t in session.exec(
            select(TopicTag).where(col(TopicTag.article_id).in_(ids[i : i + 500]))
        ):
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


def development_articles(
    session: Session, *, development_ids: Sequence[int], since: datetime | None = None
) -> dict[int, list[Article]]:
    """The articles of each development (first seen `since` or later), first seen first."""
    out: dict[int, list[Article]] = {}
    ids = list(development_ids)
    for i in range(0, len(ids), 500):
        q = select(Article).where(col(Article.development_id).in_(ids[i : i + 500]))
        if since is not None:
            q = q.where(col(Article.first_seen_at) >= since)
        q = q.order_by(col(Article.first_seen_at), col(Article.id))
        for a in session.exec(q):
            if a.development_id is not None:
                out.setdefault(a.development_id, []).append(a)
    return out
