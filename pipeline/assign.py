"""Development assignment and new-development alert content: which development an article
belongs to (a seed's, a stored one, or a new one), and what its alert says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from monitors.alert_text import cut_text
from monitors.alerts import AlertContent, SeedRef, SourceLink
from monitors.clock import as_utc
from monitors.config import MonitorConfig
from monitors.dedup import DedupIndex
from monitors.dev_features import scope_of
from monitors.dev_records import Assignment
from monitors.developments import DevelopmentIndex
from monitors.records import DedupMatch, Tagging
from monitors.tagging import Tagger, headline_topics, headline_topics_of
from pipeline.prepare import make_tagger
from pipeline.seed_cache import seed_tagging
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
    """A development index over seed developments and recent developments of the monitor,
    with their reports (what a running story has said, who said it and when)."""
    tagger = tagger or make_tagger(cfg)
    index = DevelopmentIndex(scope=scope_of(cfg.actors))
    seeds = {s.seed_id: s for s in repo.list_seeds(session, monitor=cfg.name)}
    recent = repo.list_developments(session, monitor=cfg.name, since=now - DEVELOPMENT_LOOKBACK)
    # their reports of the lookback only: a seed's story of months ago does not grow the index
    members = repo.development_articles(
        session,
        development_ids=[d.id for d in recent if d.id is not None],
        since=now - DEVELOPMENT_LOOKBACK,
    )
    # each report's own topics (a story's topic that few of its reports carry is telling)
    tags = repo.tags_for(
        session, article_ids=[a.id for arts in members.values() for a in arts if a.id]
    )
    reports: list[tuple[datetime, int, Development, Article]] = []
    for dev in recent:
        arts = members.get(dev.id or 0, [])
        if dev.seed_ref and dev.seed_ref in seeds:
            seed = seeds[dev.seed_ref]
            index.add(
                key=str(dev.id),
                title=seed.title,
                text=seed.text,  # the index matches on its title and lead, and its whole text
                topics=frozenset(dev.topics or []),
                published=as_utc(dev.first_seen_at) or now,
                status="known",
                seed_ref=dev.seed_ref,
                headline_topics=headline_topics(
                    seed_tagging(tagger, title=seed.title, text=seed.text), seed.title
                ),
                event_date=_parse_date(seed.event_date),
            )
        elif not arts:
            index.add(
                key=str(dev.id),
                title=dev.title,
                text="",
                topics=frozenset(dev.topics or []),
                published=as_utc(dev.first_seen_at) or now,
                status="known" if dev.status == "known" else "new",
                parent=str(dev.parent_id) if dev.parent_id else None,
            )
        for a in arts:
            # the news's own time, as for articles added during a run (not when it was seen)
            published = as_utc(a.published_at) or as_utc(a.first_seen_at) or now
            reports.append((published, a.id or 0, dev, a))
    # reports in time order (retrieval scans the newest first), each development registered
    # with its earliest report
    for published, _, dev, a in sorted(reports, key=lambda r: (r[0], r[1])):
        key = str(dev.id)
        mine = tags.get(a.id or 0, [])
        own = frozenset(t.topic for t in mine) or frozenset(dev.topics or [])
        # its headline's topics from the evidence stored with its tags, as when it was stored
        heads = headline_topics_of([(t.topic, t.evidence) for t in mine], a.title)
        if key in index:
            index.touch(
                key,
                title=a.title,
                text=a.text,
                topics=own,
                published=published,
                headline_topics=heads,
                ref=str(a.id),
                outlet=a.outlet,
            )
            continue
        index.add(
            key=key,
            title=a.title,
            text=a.text,
            topics=frozenset(dev.topics or []),
            published=published,
            status="known" if dev.status == "known" else "new",
            headline_topics=heads,
            ref=str(a.id),
            outlet=a.outlet,
            parent=str(dev.parent_id) if dev.parent_id else None,
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
            _index_report(devs, str(dev.id), article, topics, heads, published)
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
        outlet=article.outlet,
    )
    if assignment.key is not None:
        dev = s.get(Development, int(assignment.key))
        if dev is not None:
            _move_reports(s, _articles(s, assignment.corroborated_by), dev)
            _touch(dev, article, topics, now)
            _index_report(devs, assignment.key, article, topics, heads, published)
            return dev, False, assignment.reason
    if assignment.corroborated_by and assignment.related is not None:
        return _split_off(
            s, cfg, article, topics, heads, assignment, devs=devs, published=published, now=now
        )
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
        ref=str(article.id),
        outlet=article.outlet,
    )
    return dev, True, assignment.reason


def _split_off(
    s: Session,
    cfg: MonitorConfig,
    article: Article,
    topics: frozenset[str],
    heads: frozenset[str],
    assignment: Assignment,
    *,
    devs: DevelopmentIndex,
    published: datetime,
    now: datetime,
) -> tuple[Development | None, bool, str]:
    """A new fact of a running story that another outlet reported first: a new development
    holding those earlier reports (moved from the story) and this article."""
    earlier = _articles(s, assignment.corroborated_by)
    earlier.sort(key=lambda a: (as_utc(a.published_at) or now, a.id or 0))
    first = earlier[0] if earlier else article
    story = s.get(Development, int(assignment.related or 0))
    dev = Development(
        monitor=cfg.name,
        title=first.title[:2000],
        status="new",
        first_seen_at=as_utc(first.first_seen_at) or now,
        last_seen_at=now,
        topics=sorted(topics),
        article_count=1,
        outlets=[article.outlet] if article.outlet else [],
        parent_id=story.id if story is not None else None,
    )
    s.add(dev)
    s.flush()
    _move_reports(s, earlier, dev)
    devs.split_off(
        str(dev.id),
        parent=str(assignment.related),
        refs=[str(a.id) for a in earlier],
        title=first.title,
        topics=topics,
        published=as_utc(first.published_at) or published,
    )
    _index_report(devs, str(dev.id), article, topics, heads, published)
    return dev, True, assignment.reason


def _articles(s: Session, refs: tuple[str, ...]) -> list[Article]:
    """The stored articles of `refs` (article ids), those that exist."""
    return [a for r in refs if (a := s.get(Article, int(r))) is not None]


def _move_reports(s: Session, articles: list[Article], dev: Development) -> None:
    """Move stored `articles` (earlier reports of what `dev` reports) to `dev`, keeping both
    developments' article counts and `dev`'s outlets true."""
    for a in articles:
        if a.development_id == dev.id:
            continue
        old = s.get(Development, a.development_id) if a.development_id is not None else None
        if old is not None:
            old.article_count = max(0, old.article_count - 1)
            s.add(old)
        a.development_id = dev.id
        dev.article_count += 1
        dev.outlets = sorted({*(dev.outlets or []), *([a.outlet] if a.outlet else [])})
        s.add(a)


def _index_report(
    devs: DevelopmentIndex,
    key: str,
    article: Article,
    topics: frozenset[str],
    heads: frozenset[str],
    published: datetime,
) -> None:
    """Add a stored article to development `key` of the index."""
    devs.touch(key, title=article.title, text=article.text, topics=topics, published=published,
               headline_topics=heads, ref=str(article.id), outlet=article.outlet)  # fmt: skip


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
    reports: list[Article],
    tagging: Tagging,
    dedup: DedupIndex,
    *,
    watched: frozenset[str],
    run_url: str | None,
) -> AlertContent:
    """The new-development alert: the first report's headline and summary, every report so
    far as a source (more than one when a second outlet made a running story's new fact a
    development), the topics with their evidence and the nearest seed."""
    first = reports[0]
    nearest = dedup.nearest(text=first.text, title=first.title, kind="seed")
    seed_ref = (
        SeedRef(seed_id=nearest.ref, title=nearest.title, score=round(nearest.score, 1))
        if nearest is not None
        else None
    )
    hits = sorted(tagging.topics, key=lambda h: (h.topic not in watched, h.topic))
    return AlertContent(
        monitor=cfg.name,
        kind="new_development",
        headline=first.title,
        summary=cut_text(first.summary or first.text, 600),
        development_id=dev.id,
        topics=hits,
        actors=list(tagging.actors),
        sources=[
            SourceLink(
                title=a.title,
                url=a.link,
                outlet=a.outlet or "",
                published=as_utc(a.published_at),
            )
            for a in reports
        ],
        nearest_seed=seed_ref,
        run_url=run_url,
    )
