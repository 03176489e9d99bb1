"""Stage 1 of a pass: store the monitor's feeds and seeds, pick the feeds due for polling."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session

from monitors.clock import as_utc
from monitors.config import MonitorConfig
from monitors.kinds import FeedStatus
from monitors.seeds import SeedDoc, load_seeds
from monitors.tagging import Tagger
from monitors.text import text_hash
from pipeline.seed_cache import cached_tagger, seed_tagging
from storage import repo_feeds
from storage import repository as repo
from storage.db import session_scope
from storage.models import Feed


@dataclass
class Prepared:
    """What `prepare` found: feeds due for polling and the seed count."""

    due_feeds: list[str]
    skipped_feeds: dict[str, str]
    seeds: int


def make_tagger(cfg: MonitorConfig) -> Tagger:
    """The topic tagger of a monitor (compiled once per process for the same taxonomy)."""
    return cached_tagger(cfg)


def prepare(cfg: MonitorConfig, engine: Engine, *, now: datetime, force: bool = False) -> Prepared:
    """Store the monitor's feeds and seeds, and pick the feeds due for polling now."""
    seeds = tagged_seeds(cfg)  # read and tagged before the transaction begins
    with session_scope(engine) as s:
        feeds = store_monitor(s, cfg, seeds)
    due, skipped = [], {}
    for feed in feeds:
        if feed.status == FeedStatus.DISABLED:
            skipped[feed.name] = f"disabled: {feed.disabled_reason}"
        elif not force and (due_at := as_utc(feed.next_due_at)) is not None and due_at > now:
            skipped[feed.name] = f"not due until {due_at:%Y-%m-%d %H:%M} UTC"
        else:
            due.append(feed.name)
    return Prepared(due_feeds=due, skipped_feeds=skipped, seeds=len(seeds))


def tagged_seeds(cfg: MonitorConfig) -> list[tuple[SeedDoc, list[str]]]:
    """The monitor's seed documents, each with the topics of its whole text."""
    tagger = make_tagger(cfg)
    return [
        (d, seed_tagging(tagger, title=d.title, text=d.text).topic_names())
        for d in load_seeds(cfg.seeds_dir)
    ]


def store_monitor(
    s: Session, cfg: MonitorConfig, seeds: list[tuple[SeedDoc, list[str]]]
) -> list[Feed]:
    """Write the monitor's feeds, seeds and seed developments in the caller's transaction."""
    feeds = repo_feeds.sync_feeds(
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
                "topics": topics,
            }
            for d, topics in seeds
        ],
    )
    for d, topics in seeds:
        # topics of the whole seed; matching a development to a seed uses its title and lead
        repo.ensure_seed_development(
            s, monitor=cfg.name, seed_id=d.seed_id, title=d.title, topics=topics
        )
    return feeds
