"""Development assignment and new-development alert content: which development an article
belongs to (a seed's, a stored one, or a new one), and what its alert says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from monitors.alerts import AlertContent, SeedRef, SourceLink
from monitors.clock import as_utc
from monitors.config import MonitorConfig
from monitors.dedup import DedupIndex
from monitors.developments import DevelopmentIndex
from monitors.records import DedupMatch, Tagging
from monitors.tagging import Tagger, headline_topics
from pipeline.prepare import make_tagger
from storage import repository as repo
from storage.models import Article, Development

#: Developments last seen longer ago than this are not loaded for grouping.
DEVELOPMENT_LOOKBACK = timedelta(days=14)


def _parse_date(value: str | None) -> datetime | None:
    """An ISO date (YYYY-MM-DD) from the seed manifest as aware UTC midnight, or None."""
    if not value:
        return None
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def build_development_index(
    cfg: MonitorConfig, session: Session, *, now: datetime, tagger: Tagger | None = None
) -> DevelopmentIndex:
    """A development index over seed developments and recent developments of the monitor."""
    tagger = tagger or make_tagger(cfg)
    index = DevelopmentIndex()
    seeds = {s.seed_id: s for s in repo.list_seeds(session, monitor=cfg.name)}
    recent = repo.list_developments(session, monitor=cfg.name, since=now - DEVELOPMENT_LOOKBACK)
    firsts = repo.first_articles(
        session, development_ids=[d.id for d in recent if d.id is not None and not d.seed_ref]
    )
    for dev in recent:
        event_date = None
        published = as_utc(dev.first_seen_at) or now
        if dev.seed_ref and dev.seed_ref in seeds:
            seed = seeds[dev.seed_ref]
            title, text = seed.title, seed.text  # the index matches on its title and lead
            event_date = _parse_date(seed.event_date)
        else:
            first = firsts.get(dev.id or 0)
            title = dev.title
            text = first.text if first else ""
            # the news's own time, as for articles added during a run (not when it was seen)
            published = (as_utc(first.published_at) if first else None) or published
        index.add(
            key=str(dev.id),
            title=title,
            text=text,
            topics=frozenset(dev.topics or []),
            published=published,
            status="known" if dev.status == "known" else "new",
            seed_ref=dev.seed_ref,
            headline_topics=headline_topics(tagger.tag(title=title, text=text), title),
            event_date=event_date,
        )
    return index


def _assign_development(
    s: Session,
    cfg: MonitorConfig,
    article: Article,
    tagging: Tagging,
    match: DedupMatch | None,
    *,
    devs: DevelopmentIndex,
    seed_devs: dict[str | None, Development],
    watched: frozenset[str],
    published: datetime,
    now: datetime,
) -> tuple[Development | None, bool, str]:
    """Find or create the development of an article; returns (development, created, why)."""
    topics = frozenset(tagging.topic_names())
    heads = headline_topics(tagging, article.title)
    dev: Development | None = None
    if match is not None and match.kind == "seed":
        dev = seed_devs.get(match.ref)
        note = f"duplicate of seed {match.ref} ({match.level}, {match.score:.0f})"
        return dev, False, note
    if match is not None and match.kind == "article":
        dup = s.get(Article, int(match.ref))
        if dup is not None and dup.development_id is not None:
            dev = s.get(Development, dup.development_id)
        note = f"duplicate of article {match.ref} ({match.level}, {match.score:.0f})"
        if dev is not None:
            _touch(dev, article, topics, now)
            devs.touch(
                str(dev.id),
                title=article.title,
                text=article.text,
                topics=topics,
                published=published,
                headline_topics=heads,
            )
        return dev, False, note
    if not tagging.relevant or not topics:
        return None, False, "out of scope" if not tagging.relevant else "no topic"
    assignment = devs.assign(
        title=article.title,
        text=article.text,
        topics=topics,
        published=published,
        watched=watched,
        headline_topics=heads,
    )
    if assignment.key is not None:
        dev = s.get(Development, int(assignment.key))
        if dev is not None:
            _touch(dev, article, topics, now)
            devs.touch(
                assignment.key,
                title=article.title,
                text=article.text,
                topics=topics,
                published=published,
                headline_topics=heads,
            )
            return dev, False, assignment.reason
    dev = Development(
        monitor=cfg.name,
        title=article.title[:2000],
        status="new",
        first_seen_at=now,
        last_seen_at=now,
        topics=sorted(topics),
        article_count=1,
        outlets=[article.outlet] if article.outlet else [],
    )
    s.add(dev)
    s.flush()
    devs.add(
        key=str(dev.id),
        title=article.title,
        text=article.text,
        topics=topics,
        published=published,
        status="new",
        headline_topics=heads,
    )
    return dev, True, assignment.reason


def _touch(dev: Development, article: Article, topics: frozenset[str], now: datetime) -> None:
    dev.last_seen_at = now
    dev.article_count += 1
    if article.outlet and article.outlet not in (dev.outlets or []):
        dev.outlets = [*(dev.outlets or []), article.outlet]
    if dev.status == "new":
        dev.topics = sorted(set(dev.topics or []) | topics)


def _alert_content(
    cfg: MonitorConfig,
    dev: Development,
    article: Article,
    tagging: Tagging,
    dedup: DedupIndex,
    *,
    watched: frozenset[str],
    run_url: str | None,
) -> AlertContent:
    nearest = dedup.nearest(text=article.text, title=article.title, kind="seed")
    seed_ref = (
        SeedRef(seed_id=nearest.ref, title=nearest.title, score=round(nearest.score, 1))
        if nearest is not None
        else None
    )
    hits = sorted(tagging.topics, key=lambda h: (h.topic not in watched, h.topic))
    summary = article.summary or article.text[:400]
    return AlertContent(
        monitor=cfg.name,
        kind="new_development",
        headline=article.title,
        summary=summary[:600],
        development_id=dev.id,
        topics=hits,
        sources=[
            SourceLink(
                title=article.title,
                url=article.link,
                outlet=article.outlet or "",
                published=as_utc(article.published_at),
            )
        ],
        nearest_seed=seed_ref,
        run_url=run_url,
    )
