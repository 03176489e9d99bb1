"""One monitoring pass as plain functions; `flows/` wraps each stage in a Prefect task.

Stages: `prepare` (feeds and seeds into the database) → `harvest_feed` per feed (poll, find new
entries, fetch their pages) → `extract_batch` (bounded full-text extraction, one worker pool
per run) → `process_batch` (dedup, topics, developments, storage, alerts into the outbox, one
transaction per article) → `check_feed_health` → `pipeline.outbox.deliver_pending` (send what
the outbox owes).
"""

from __future__ import annotations

import itertools
import random
import statistics
import zlib
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from monitors.alerts import (
    AlertContent,
    AlertKind,
    SeedRef,
    SourceLink,
    alert_subject,
)
from monitors.clock import as_utc
from monitors.config import MonitorConfig
from monitors.dedup import DedupIndex
from monitors.dedup_features import TextFeatures
from monitors.dedup_records import DedupRecord, record_of
from monitors.developments import DevelopmentIndex
from monitors.errors import FetchError
from monitors.extract import ExtractJob, extract_articles
from monitors.httpclient import Fetcher
from monitors.polling import FeedState, fetch_pages, poll_feed
from monitors.records import DedupMatch, ExtractedText, FeedItem, Tagging
from monitors.seeds import load_seeds
from monitors.tagging import Tagger, headline_topics
from monitors.text import text_hash
from pipeline import dedup_index
from pipeline.outbox import (
    DeliveryReport,
    alert_channels,
    channel_policy,
    digest_due,
    routed_channels,
)
from storage import dedup_store
from storage import repository as repo
from storage.db import session_scope
from storage.models import Alert, Article, Development, Feed, TopicTag

#: Consecutive failed polls after which a feed raises one feed-health alert.
FEED_FAILURE_ALERT_AFTER = 3
#: A feed is "silent" after this many typical gaps without a new item...
SILENCE_FACTOR = 10
#: ...and never before this long (a feed with one item an hour is not silent after 10 hours
#: overnight).
SILENCE_MIN = timedelta(hours=24)
#: Entries needed to estimate a feed's cadence from its publication dates.
MIN_GAPS_FOR_CADENCE = 4
#: ExtractJob.fetch_error of an entry whose page another feed of the run is fetching.
ALREADY_CLAIMED = "page fetched through another feed in this run"
#: Articles stored per transaction by `process_batch` (each in its own savepoint).
TRANSACTION_ARTICLES = 200
#: Developments last seen longer ago than this are not loaded for grouping.
DEVELOPMENT_LOOKBACK = timedelta(days=14)


# --- prepare -------------------------------------------------------------------------------
@dataclass
class Prepared:
    """What `prepare` found: feeds due for polling and the seed count."""

    due_feeds: list[str]
    skipped_feeds: dict[str, str]
    seeds: int


def prepare(cfg: MonitorConfig, engine: Engine, *, now: datetime, force: bool = False) -> Prepared:
    """Store the monitor's feeds and seeds, and pick the feeds due for polling now."""
    seeds = load_seeds(cfg.seeds_dir)
    tagger = make_tagger(cfg)
    topics = {d.seed_id: tagger.tag(title=d.title, text=d.text).topic_names() for d in seeds}
    with session_scope(engine) as s:
        feeds = repo.sync_feeds(
            s, monitor=cfg.name, feeds=[(f.name, f.url) for f in cfg.feeds if f.enabled]
        )
        repo.sync_seeds(
            s,
            monitor=cfg.name,
            seeds=[
                {
                    "seed_id": d.seed_id,
                    "title": d.title,
                    "outlet": d.outlet,
                    "published": d.published,
                    "event_date": d.event_date,
                    "text": d.text,
                    "text_hash": text_hash(d.text),
                    "topics": topics[d.seed_id],
                }
                for d in seeds
            ],
        )
        for d in seeds:
            # topics of the whole seed; matching a development to a seed uses its title and lead
            repo.ensure_seed_development(
                s, monitor=cfg.name, seed_id=d.seed_id, title=d.title, topics=topics[d.seed_id]
            )
    due, skipped = [], {}
    for feed in feeds:
        if feed.status == "disabled":
            skipped[feed.name] = f"disabled: {feed.disabled_reason}"
        elif not force and (due_at := as_utc(feed.next_due_at)) is not None and due_at > now:
            skipped[feed.name] = f"not due until {due_at:%Y-%m-%d %H:%M} UTC"
        else:
            due.append(feed.name)
    return Prepared(due_feeds=due, skipped_feeds=skipped, seeds=len(seeds))


# --- harvest -------------------------------------------------------------------------------
@dataclass
class Harvest:
    """The outcome of polling one feed: status, message and the entries to process."""

    feed: str
    status: str
    message: str
    items_seen: int = 0
    new_items: list[FeedItem] = field(default_factory=list)
    changed_items: list[FeedItem] = field(default_factory=list)
    jobs: list[ExtractJob] = field(default_factory=list)
    also_seen: int = 0
    possible_gap: bool = False


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
    feed: Feed, state: FeedState, *, status: str, now: datetime, full_every: int
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
    if status == "gone":
        feed.status = "disabled"
    elif status == "failed":
        feed.status = "failing"
    else:
        feed.status = "ok"


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
    with Session(engine, expire_on_commit=False) as s:
        feed = repo.get_feed(s, monitor=cfg.name, name=feed_name)
        result = poll_feed(
            fetcher,
            feed_name=feed_name,
            state=_state_from_row(feed),
            now=now,
            interval=interval,
            settings=cfg.fetch,
            rng=rng,
        )
        _apply_state(
            feed,
            result.state,
            status=result.status,
            now=now,
            full_every=cfg.fetch.force_full_fetch_every,
        )
        harvest = Harvest(feed=feed_name, status=result.status, message=result.message)
        if result.status != "ok":
            repo.save_feed(s, feed=feed)
            return harvest
        items = _unique_items(result.items)
        harvest.items_seen = len(items)
        feed.typical_gap_seconds = typical_gap(items) or feed.typical_gap_seconds
        known = repo.find_known_items(
            s,
            monitor=cfg.name,
            urls=[i.url for i in items],
            guids=[i.guid for i in items if i.guid],
        )
        sourced = repo.sources_of_feed(
            s, feed_id=feed.id or 0, article_ids=[a.id for a in known.values() if a.id]
        )
        for item in items:
            stored = known.get(item.url) or (known.get(f"guid:{item.guid}") if item.guid else None)
            if stored is None:
                harvest.new_items.append(item)
            elif stored.content_hash != item.content_hash:
                harvest.changed_items.append(item)
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
        if harvest.new_items:
            feed.last_new_item_at = now
            if len(harvest.new_items) == len(items) > 1 and feed.last_success_at and known == {}:
                # every entry is new on a feed polled before: the window may have overflowed
                harvest.possible_gap = feed.poll_count > 1
                feed.possible_gaps += int(harvest.possible_gap)
        repo.save_feed(s, feed=feed)
    todo = harvest.new_items + harvest.changed_items
    # pages are fetched by the link as published (tracking parameters and all), not the
    # canonical URL: some sites answer only the former. An entry listed by several feeds is
    # downloaded once per run: the first feed to claim it fetches it.
    mine = [i for i in todo if fetcher.claim(i.url)]
    pages = fetch_pages(fetcher, [i.link for i in mine]) if mine else {}
    for item in todo:
        page = pages.get(item.link)
        if item not in mine:
            html, error = None, ALREADY_CLAIMED
        elif isinstance(page, FetchError) or page is None:
            html, error = None, str(page) if page is not None else "not fetched"
        else:
            html, error = page.content, None
        harvest.jobs.append(
            ExtractJob(
                url=item.url,
                html=html,
                fallback_title=item.title,
                fallback_summary=item.summary,
                fetch_error=error,
            )
        )
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


# --- extract -------------------------------------------------------------------------------
@dataclass
class Candidate:
    """A feed entry with its extracted text, ready for processing."""

    item: FeedItem
    text: ExtractedText
    changed: bool = False


def extract_batch(harvests: list[Harvest], *, timeout_seconds: float = 20.0) -> list[Candidate]:
    """Extract the full text of every harvested page in one bounded worker pool."""
    pairs: list[tuple[FeedItem, ExtractJob, bool]] = []
    for h in harvests:
        todo = [(i, False) for i in h.new_items] + [(i, True) for i in h.changed_items]
        for (item, changed), job in zip(todo, h.jobs, strict=True):
            pairs.append((item, job, changed))
    if not pairs:
        return []
    # an entry found through several feeds is extracted once
    first: dict[str, int] = {}
    jobs: list[ExtractJob] = []
    for item, job, _ in pairs:
        if item.url not in first:
            first[item.url] = len(jobs)
            jobs.append(job)
        elif job.html is not None and jobs[first[item.url]].html is None:
            jobs[first[item.url]] = job  # the feed that fetched the page wins
    texts = extract_articles(jobs, timeout_seconds=timeout_seconds)
    return [
        Candidate(item=item, text=texts[first[item.url]], changed=changed)
        for item, _, changed in pairs
    ]


# --- process -------------------------------------------------------------------------------
@dataclass
class ArticleOutcome:
    """What happened to one article in `process_batch` (for the summary and the artifact)."""

    article_id: int | None
    feed: str
    title: str
    url: str
    duplicate: DedupMatch | None
    topics: list[str]
    relevant: bool
    development_id: int | None
    new_development: bool
    alerts: int
    note: str = ""
    evidence: dict[str, str] = field(default_factory=dict)


def make_tagger(cfg: MonitorConfig) -> Tagger:
    """The topic tagger of a monitor."""
    return Tagger(cfg.topics, cfg.actors, require_actors=cfg.alerts.require_actors)


def build_dedup_index(cfg: MonitorConfig, session: Session) -> DedupIndex:
    """A dedup index over the monitor's seeds and every stored article."""
    index = DedupIndex(cfg.dedup)
    for seed in repo.list_seeds(session, monitor=cfg.name):
        index.add(key=seed.seed_id, kind="seed", text=seed.text, title=seed.title)
    for aid, title, text in repo.iter_article_texts(session, monitor=cfg.name):
        index.add(key=str(aid), kind="article", text=text, title=title)
    return index


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


def process_batch(
    cfg: MonitorConfig,
    engine: Engine,
    candidates: list[Candidate],
    *,
    run_id: int | None,
    now: datetime,
    run_url: str | None = None,
) -> list[ArticleOutcome]:
    """Dedup, tag, group and store each candidate; write owed alerts in the same transaction."""
    if not candidates:
        return []
    tagger = make_tagger(cfg)
    watched = frozenset(cfg.alerts.topics)
    ordered = sorted(candidates, key=lambda c: (c.item.published or now, c.item.feed, c.item.url))
    dedup_index.backfill(cfg, engine)  # all stored articles once, after the upgrade to 0005
    outcomes: list[ArticleOutcome] = []
    with Session(engine, expire_on_commit=False) as s:
        pass_index = dedup_index.open_pass_index(cfg, engine, s, [_title_text(c) for c in ordered])
        devs = build_development_index(cfg, s, now=now, tagger=tagger)
        seed_devs = {
            d.seed_ref: d for d in repo.list_developments(s, monitor=cfg.name, status="known")
        }
        feed_ids = {f.name: f.id for f in repo.list_feeds(s, monitor=cfg.name)}
        # one lookup for the batch (harvest checked each feed; this also catches an entry
        # listed by two feeds, or stored since by an overlapping run)
        known = _known(s, cfg, [c.item for c in ordered])
        s.commit()
        process = partial(
            _process_one,
            cfg,
            s,
            tagger=tagger,
            dedup=pass_index.index,
            devs=devs,
            seed_devs=seed_devs,
            feed_ids=feed_ids,
            watched=watched,
            run_id=run_id,
            now=now,
            run_url=run_url,
            known=known,
        )
        pairs = list(zip(ordered, pass_index.features, strict=True))
        records: list[tuple[int, DedupRecord]] = []
        for start in range(0, len(pairs), TRANSACTION_ARTICLES):
            for cand, feats in pairs[start : start + TRANSACTION_ARTICLES]:
                try:
                    with s.begin_nested():
                        outcome = process(cand, feats)
                except IntegrityError:
                    # an overlapping run stored this URL between our check and our insert: the
                    # unique constraint kept one copy; process again, now as already stored
                    known.update(_known(s, cfg, [cand.item]))
                    with s.begin_nested():
                        outcome = process(cand, feats)
                outcomes.append(outcome)
                if outcome.article_id is not None and _stored_new(outcome):
                    records.append((outcome.article_id, record_of(feats, cfg.dedup)))
            # the new articles' index rows in one executemany per table
            dedup_index.write_records(s, cfg=cfg, records=records)
            records.clear()
            s.commit()  # articles, their index rows, developments and alerts: all or nothing
    return outcomes


def _stored_new(o: ArticleOutcome) -> bool:
    """Whether the outcome is a newly stored article (a changed one is re-indexed at once)."""
    return o.note != "already stored" and not o.note.startswith("changed")


def _known(s: Session, cfg: MonitorConfig, items: list[FeedItem]) -> dict[str, Article]:
    """Stored articles of these entries, by URL and by "guid:" + GUID."""
    return repo.find_known_items(
        s, monitor=cfg.name, urls=[i.url for i in items], guids=[i.guid for i in items if i.guid]
    )


def _title_text(cand: Candidate) -> tuple[str, str]:
    """The (title, text) an article is stored and deduplicated with."""
    return cand.text.title or cand.item.title, cand.text.text or cand.item.summary


def _process_one(
    cfg: MonitorConfig,
    s: Session,
    cand: Candidate,
    feats: TextFeatures,
    *,
    tagger: Tagger,
    dedup: DedupIndex,
    devs: DevelopmentIndex,
    seed_devs: dict[str | None, Development],
    feed_ids: dict[str, int | None],
    watched: frozenset[str],
    run_id: int | None,
    now: datetime,
    run_url: str | None,
    known: dict[str, Article],
) -> ArticleOutcome:
    """Dedup, tag, group and store one candidate in the caller's transaction; the stored
    article goes into `known` and the pass's dedup index."""
    item, ext = cand.item, cand.text
    title, text = _title_text(cand)
    published = item.published or ext.published or now
    tagging = tagger.tag(title=title, text=text)
    topics = tagging.topic_names()
    outlet = cfg.feed(item.feed).outlet_name
    stored = known.get(item.url) or (known.get(f"guid:{item.guid}") if item.guid else None)
    if stored is not None:
        return _update_version(
            s, cfg, stored, cand, title, text, tagging, feed_ids, now, dedup, feats
        )
    match = dedup.find(features=feats)
    article = Article(
        monitor=cfg.name,
        url=item.url,
        guid=item.guid,
        link=item.link,
        title=title[:2000],
        summary=item.summary,
        text=text,
        text_source=ext.source,
        extraction_note=ext.note,
        author=(ext.author or None) and ext.author[:500] if ext.author else None,
        sitename=ext.sitename[:500] if ext.sitename else None,
        language=ext.language,
        published_at=published,
        outlet=outlet,
        content_hash=item.content_hash,
        text_hash=feats.text_hash,
        first_seen_at=now,
        updated_at=now,
        relevant=tagging.relevant,
        actors=tagging.actors,
        run_id=run_id,
    )
    if match is not None:
        article.duplicate_kind = match.kind
        article.duplicate_ref = match.ref
        article.duplicate_level = match.level
        article.duplicate_score = round(match.score, 2)
    s.add(article)
    s.flush()
    feed_id = feed_ids.get(item.feed)
    if feed_id is not None and article.id is not None:
        repo.add_article_source(  # a new article has no source yet: nothing to look up
            s, article_id=article.id, feed_id=feed_id, link=item.link, guid=item.guid, known=set()
        )
    for hit in tagging.topics:
        s.add(
            TopicTag(
                article_id=article.id or 0,
                topic=hit.topic,
                terms=list(hit.terms),
                evidence=list(hit.evidence),
            )
        )
    dev, is_new, note = _assign_development(
        s,
        cfg,
        article,
        tagging,
        match,
        devs=devs,
        seed_devs=seed_devs,
        watched=watched,
        published=published,
        now=now,
    )
    n_alerts = 0
    if dev is not None:
        article.development_id = dev.id
        s.add(article)
        if is_new and dev.status == "new" and tagging.relevant and set(topics) & watched:
            content = _alert_content(
                cfg, dev, article, tagging, dedup, watched=watched, run_url=run_url
            )
            for ch in routed_channels(cfg, set(topics) & watched):
                n_alerts += repo.add_alert(
                    s,
                    alert=Alert(
                        monitor=cfg.name,
                        channel=ch,
                        kind="new_development",
                        next_attempt_at=digest_due(channel_policy(cfg, ch), now),
                        dedup_key=f"dev:{dev.id}",
                        development_id=dev.id,
                        article_id=article.id,
                        subject=alert_subject(content)[:1000],
                        payload=content.to_payload(),
                        created_at=now,
                        run_id=run_id,
                    ),
                )
    s.flush()
    aid = article.id
    known[item.url] = article
    if item.guid:
        known[f"guid:{item.guid}"] = article
    dedup.add(key=str(aid), kind="article", title=title, features=feats)
    return ArticleOutcome(
        article_id=aid,
        feed=item.feed,
        title=title,
        url=item.url,
        duplicate=match,
        topics=topics,
        relevant=tagging.relevant,
        development_id=dev.id if dev else None,
        new_development=is_new,
        alerts=n_alerts,
        note=note,
        evidence={h.topic: h.evidence[0] for h in tagging.topics if h.evidence},
    )


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


def _update_version(
    s: Session,
    cfg: MonitorConfig,
    stored: Article,
    cand: Candidate,
    title: str,
    text: str,
    tagging: Tagging,
    feed_ids: dict[str, int | None],
    now: datetime,
    dedup: DedupIndex,
    feats: TextFeatures,
) -> ArticleOutcome:
    """A stored article whose entry changed: keep the old content as a version, update."""
    feed_id = feed_ids.get(cand.item.feed)
    if feed_id is not None and stored.id is not None:
        repo.add_article_source(
            s, article_id=stored.id, feed_id=feed_id, link=cand.item.link, guid=cand.item.guid
        )
    note = "already stored"
    if stored.content_hash != cand.item.content_hash:
        repo.record_version(s, article=stored)
        stored.version += 1
        stored.title = title[:2000]
        stored.summary = cand.item.summary
        stored.text = text
        stored.text_hash = feats.text_hash
        stored.content_hash = cand.item.content_hash
        stored.updated_at = now
        s.add(stored)
        if stored.id is not None:  # its index rows follow its new text
            dedup_store.delete_dedup_entries(s, article_ids=[stored.id])
            dedup_index.persist(s, cfg=cfg, index=dedup, article_id=stored.id, f=feats)
        note = f"changed: stored as version {stored.version}"
    return ArticleOutcome(
        article_id=stored.id,
        feed=cand.item.feed,
        title=title,
        url=cand.item.url,
        duplicate=None,
        topics=tagging.topic_names(),
        relevant=tagging.relevant,
        development_id=stored.development_id,
        new_development=False,
        alerts=0,
        note=note,
    )


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


# --- feed health ---------------------------------------------------------------------------
def feed_problem(feed: Feed, *, now: datetime, silence_alerts: bool) -> tuple[str, str, str] | None:
    """(status, headline, explanation) when a feed needs attention: disabled, failing, silent."""
    if feed.status == "disabled":
        return "disabled", f"Feed {feed.name} is disabled", feed.disabled_reason or "disabled"
    if feed.consecutive_failures >= FEED_FAILURE_ALERT_AFTER:
        return (
            "failing",
            f"Feed {feed.name} failed {feed.consecutive_failures} polls in a row",
            feed.last_error or "no error recorded",
        )
    last_new = as_utc(feed.last_new_item_at)
    if silence_alerts and last_new is not None and feed.typical_gap_seconds:
        quiet_for = (now - last_new).total_seconds()
        limit = max(SILENCE_MIN.total_seconds(), SILENCE_FACTOR * feed.typical_gap_seconds)
        if quiet_for > limit:
            return (
                "silent",
                f"Feed {feed.name} has gone silent",
                f"no new item since {last_new:%Y-%m-%d %H:%M} UTC ({quiet_for / 3600:.0f} h); "
                f"it usually publishes every {feed.typical_gap_seconds / 3600:.1f} h. "
                "Check that the feed URL still lists new articles.",
            )
    return None


def typical_gap(items: list[FeedItem]) -> float | None:
    """Median seconds between consecutive dated entries of a feed (its cadence), if measurable."""
    dates = sorted(i.published for i in items if i.published is not None)
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(dates)]
    gaps = [g for g in gaps if g > 0]
    if len(gaps) < MIN_GAPS_FOR_CADENCE:
        return None
    return float(statistics.median(gaps))


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
        for feed in repo.list_feeds(s, monitor=cfg.name):
            problem = feed_problem(feed, now=now, silence_alerts=cfg.silence_alerts)
            if problem is not None and problem[0] == "silent" and feed.status == "ok":
                feed.status = "silent"
                s.add(feed)
            kind: AlertKind
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
                repo.add_alert(
                    s,
                    alert=Alert(
                        monitor=cfg.name,
                        channel=ch,
                        kind=kind,
                        dedup_key=f"feed:{feed.id}:{feed.health_episode}",
                        feed_id=feed.id,
                        subject=alert_subject(content)[:1000],
                        payload=content.to_payload(),
                        created_at=now,
                        run_id=run_id,
                    ),
                )
            changes.append(f"{headline}: {summary}")
    return changes


# --- summary -------------------------------------------------------------------------------
def summarize(
    *,
    prepared: Prepared,
    harvests: list[Harvest],
    outcomes: list[ArticleOutcome],
    delivery: DeliveryReport,
) -> dict[str, Any]:
    """The pass summary printed by the CLI and stored with the run."""
    topics: dict[str, int] = {}
    for o in outcomes:
        if o.duplicate is None:
            for t in o.topics:
                topics[t] = topics.get(t, 0) + 1
    return {
        "feeds_polled": len(harvests),
        "feeds_failed": {h.feed: h.message for h in harvests if h.status in ("failed", "gone")},
        "feeds_skipped": prepared.skipped_feeds,
        "feeds_not_modified": sum(h.status == "not_modified" for h in harvests),
        "entries_seen": sum(h.items_seen for h in harvests),
        "new_articles": sum(
            o.note != "already stored" and not o.note.startswith("changed") for o in outcomes
        ),
        "updated_articles": sum(o.note.startswith("changed") for o in outcomes),
        "duplicates_of_seeds": sum(
            o.duplicate is not None and o.duplicate.kind == "seed" for o in outcomes
        ),
        "duplicates_of_articles": sum(
            o.duplicate is not None and o.duplicate.kind == "article" for o in outcomes
        ),
        "relevant": sum(o.relevant for o in outcomes),
        "topics": dict(sorted(topics.items())),
        "new_developments": sum(o.new_development for o in outcomes),
        "alerts_created": sum(o.alerts for o in outcomes),
        "alerts_sent": delivery.sent,
        "alerts_retrying": delivery.retrying,
        "alerts_dead": delivery.dead,
        "delivery_messages": delivery.messages,
        "possible_gaps": [h.feed for h in harvests if h.possible_gap],
    }


def outcome_rows(outcomes: list[ArticleOutcome]) -> list[dict[str, Any]]:
    """Outcomes as flat dicts (for artifacts and exports)."""
    rows = []
    for o in outcomes:
        d = asdict(o)
        d["duplicate"] = (
            f"{o.duplicate.kind}:{o.duplicate.ref} ({o.duplicate.level} {o.duplicate.score:.0f})"
            if o.duplicate
            else ""
        )
        d["topics"] = ", ".join(o.topics)
        rows.append(d)
    return rows
