"""Stage 4 of a pass: dedup, tag, group and store each entry, and write the alerts it owes
into the outbox in the same transaction (one transaction per TRANSACTION_ARTICLES articles,
a savepoint each). Dedup candidates come from the persisted index (`pipeline.dedup_index`):
the cost follows what is new, not what is stored."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from monitors.config import MonitorConfig
from monitors.dedup_features import TextFeatures
from monitors.dedup_records import DedupRecord, record_of
from monitors.dedup_stored import PassDedupIndex
from monitors.developments import DevelopmentIndex
from monitors.kinds import AlertKind, ArticleStatus, DevelopmentStatus
from monitors.records import DedupMatch, Tagging
from monitors.tagging import Tagger
from pipeline import dedup_index
from pipeline.assign import _alert_content, _assign_development, build_development_index
from pipeline.extract import Candidate
from pipeline.harvest import known_articles
from pipeline.outbox import channel_policy, digest_due, queue_alert, routed_channels
from pipeline.prepare import make_tagger
from storage import dedup_store, repo_feeds
from storage import repository as repo
from storage.models import Article, Development

#: Articles stored per transaction by `process_batch` (each in its own savepoint).
TRANSACTION_ARTICLES = 200
#: `process_batch`'s hook: (session, the candidates of the transaction, whether it is the last).
StoreHook = Callable[[Session, list[Candidate], bool], None]


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
    status: ArticleStatus = ArticleStatus.NEW
    note: str = ""
    evidence: dict[str, str] = field(default_factory=dict)


@dataclass
class ProcessContext:
    """What processing compares each article with, loaded once per batch."""

    tagger: Tagger
    dedup: PassDedupIndex
    features: list[TextFeatures]  # of the batch's candidates, in processing order
    devs: DevelopmentIndex
    seed_devs: dict[str | None, Development]
    feed_ids: dict[str, int | None]
    watched: frozenset[str]


def load_context(
    cfg: MonitorConfig, engine: Engine, s: Session, ordered: list[Candidate], *, now: datetime
) -> ProcessContext:
    """The dedup index (seeds and the stored articles `ordered` collide with) and the
    candidates' features, the development index, seed developments and feed ids."""
    tagger = make_tagger(cfg)
    pass_index = dedup_index.open_pass_index(cfg, engine, s, [_title_and_text(c) for c in ordered])
    return ProcessContext(
        tagger=tagger,
        dedup=pass_index.index,
        features=pass_index.features,
        devs=build_development_index(cfg, s, now=now, tagger=tagger),
        seed_devs={
            d.seed_ref: d
            for d in repo.list_developments(s, monitor=cfg.name, status=DevelopmentStatus.KNOWN)
        },
        feed_ids={f.name: f.id for f in repo_feeds.list_feeds(s, monitor=cfg.name)},
        watched=frozenset(cfg.alerts.topics),
    )


def process_batch(
    cfg: MonitorConfig,
    engine: Engine,
    candidates: list[Candidate],
    *,
    run_id: int | None,
    now: datetime,
    run_url: str | None = None,
    on_store: StoreHook | None = None,
) -> list[ArticleOutcome]:
    """Dedup, tag, group and store each candidate; write owed alerts in the same transaction.

    `on_store(session, candidates, last)` runs in each transaction before its commit, with the
    candidates it stored (`last`: the batch's final transaction): what it writes is committed
    with them (`pipeline.stage` deletes their staged rows so)."""
    if not candidates:
        return []
    ordered = sorted(candidates, key=lambda c: (c.item.published or now, c.item.feed, c.item.url))
    dedup_index.backfill(cfg, engine)  # all stored articles once, after the upgrade to 0004
    outcomes: list[ArticleOutcome] = []
    with _older_objects_frozen(), Session(engine, expire_on_commit=False) as s:
        ctx = load_context(cfg, engine, s, ordered, now=now)
        # one lookup for the batch (harvest checked each feed; this also catches an entry
        # listed by two feeds, or stored since by an overlapping run)
        known = known_articles(s, monitor=cfg.name, items=[c.item for c in ordered])
        s.commit()
        pairs = list(zip(ordered, ctx.features, strict=True))
        for start in range(0, len(pairs), TRANSACTION_ARTICLES):
            records: list[tuple[int, DedupRecord]] = []
            chunk = pairs[start : start + TRANSACTION_ARTICLES]
            for cand, feats in chunk:
                outcome = _process_saved(s, cfg, ctx, cand, feats, known, run_id, now, run_url)
                outcomes.append(outcome)
                if outcome.status == ArticleStatus.NEW and outcome.article_id is not None:
                    records.append((outcome.article_id, record_of(feats, cfg.dedup)))
            # the new articles' index rows, in one executemany per table
            dedup_index.write_records(s, cfg=cfg, records=records)
            if on_store is not None:
                on_store(s, [c for c, _ in chunk], start + TRANSACTION_ARTICLES >= len(pairs))
            s.commit()  # articles, their index rows, developments and alerts: all or nothing
    return outcomes


@contextmanager
def _older_objects_frozen() -> Iterator[None]:
    """Leave the objects that exist before the batch out of the garbage collector's full
    collections while it runs (`gc.freeze`): the batch allocates enough to trigger them, and
    each would walk every object of the process (modules, Prefect, the tagger) for cycles
    that the batch did not make. Unfrozen afterwards, so they are collected as before."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _process_saved(
    s: Session,
    cfg: MonitorConfig,
    ctx: ProcessContext,
    cand: Candidate,
    feats: TextFeatures,
    known: dict[str, Article],
    run_id: int | None,
    now: datetime,
    run_url: str | None,
) -> ArticleOutcome:
    """One article in its own savepoint; a new article joins `known` and the dedup index."""
    try:
        with s.begin_nested():
            outcome = process_article(s, cfg, ctx, cand, feats, known, run_id=run_id, now=now,
                                      run_url=run_url)  # fmt: skip
    except IntegrityError:
        # an overlapping run stored this URL between our check and our insert: the unique
        # constraint kept one copy; process again, now as an already stored article
        known.update(known_articles(s, monitor=cfg.name, items=[cand.item]))
        with s.begin_nested():
            outcome = process_article(s, cfg, ctx, cand, feats, known, run_id=run_id, now=now,
                                      run_url=run_url)  # fmt: skip
    if outcome.status == ArticleStatus.NEW:
        ctx.dedup.add(key=str(outcome.article_id), kind="article", features=feats)
    return outcome


def _title_and_text(cand: Candidate) -> tuple[str, str]:
    return cand.text.title or cand.item.title, cand.text.text or cand.item.summary


def process_article(
    s: Session,
    cfg: MonitorConfig,
    ctx: ProcessContext,
    cand: Candidate,
    feats: TextFeatures,
    known: dict[str, Article],
    *,
    run_id: int | None,
    now: datetime,
    run_url: str | None,
) -> ArticleOutcome:
    """Dedup, tag, group and store one candidate in the caller's transaction, alerts included.

    `feats` are the candidate's dedup features; `known` the stored articles by URL and by
    "guid:" + GUID (a new article is added to it)."""
    item, ext = cand.item, cand.text
    title, text = _title_and_text(cand)
    published = item.published or ext.published or now
    tagger, dedup, devs, watched = ctx.tagger, ctx.dedup, ctx.devs, ctx.watched
    seed_devs, feed_ids = ctx.seed_devs, ctx.feed_ids
    tagging = tagger.tag(title=title, text=text)
    topics = tagging.topic_names()
    known_feed = any(f.name == item.feed for f in cfg.feeds)
    outlet = cfg.feed(item.feed).outlet_name if known_feed else None
    stored = known.get(item.url) or (known.get(f"guid:{item.guid}") if item.guid else None)
    if stored is not None:
        return _update_version(s, cfg, stored, cand, title, text, tagging, feed_ids, now, feats)
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
    repo.add_topic_tags(
        s,
        article_id=article.id or 0,
        tags=[(h.topic, list(h.terms), list(h.evidence)) for h in tagging.topics],
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
        if (
            is_new
            and dev.status == DevelopmentStatus.NEW
            and tagging.relevant
            and set(topics) & watched
        ):
            reports = [article]
            if dev.parent_id is not None and dev.id is not None:  # split off a running story
                reports = repo.development_articles(s, development_ids=[dev.id]).get(dev.id, [])
            content = _alert_content(
                cfg, dev, reports or [article], tagging, dedup, watched=watched, run_url=run_url
            )
            for ch in routed_channels(cfg, set(topics) & watched):
                queued = queue_alert(
                    s,
                    monitor=cfg.name,
                    channel=ch,
                    kind=AlertKind.NEW_DEVELOPMENT,
                    dedup_key=f"dev:{dev.id}",
                    content=content,
                    now=now,
                    run_id=run_id,
                    development_id=dev.id,
                    article_id=article.id,
                    next_attempt_at=digest_due(channel_policy(cfg, ch), now),
                )
                n_alerts += queued is not None
    s.flush()
    aid = article.id
    known[item.url] = article
    if item.guid:
        known[f"guid:{item.guid}"] = article
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
    feats: TextFeatures,
) -> ArticleOutcome:
    """A stored article whose entry changed: keep the old content as a version, update (its
    dedup index rows follow its new text)."""
    feed_id = feed_ids.get(cand.item.feed)
    if feed_id is not None and stored.id is not None:
        repo.add_article_source(
            s, article_id=stored.id, feed_id=feed_id, link=cand.item.link, guid=cand.item.guid
        )
    note, status = "already stored", ArticleStatus.UNCHANGED
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
        if stored.id is not None:
            dedup_store.delete_dedup_entries(s, article_ids=[stored.id])
            dedup_index.write_records(
                s, cfg=cfg, records=[(stored.id, record_of(feats, cfg.dedup))]
            )
        note, status = f"changed: stored as version {stored.version}", ArticleStatus.UPDATED
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
        status=status,
        note=note,
    )
