"""SQLModel tables of newsmon.

Conventions (full-stack-fastapi-template style): a `*Base` with the shared fields, the `table=True`
class with keys and bookkeeping, and a `*Public` read model for exports and the CLI.
Every row belongs to one monitor (its `monitor` name), so several monitors can share a database.
Datetimes are timezone-aware UTC (`storage.db.utcnow()`); SQLModel stores them as UTC on both
SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel


def _json(default: Any = None) -> Any:
    return Field(
        default_factory=lambda: default() if callable(default) else default,
        sa_column=Column(JSON, nullable=True),
    )


def _text() -> Any:
    return Field(default="", sa_column=Column(Text, nullable=False))


# --- feeds ---------------------------------------------------------------------------------
class FeedBase(SQLModel):
    monitor: str = Field(index=True, max_length=80)
    name: str = Field(max_length=80)
    url: str = Field(max_length=2000)


class Feed(FeedBase, table=True):
    """A polled feed and its fetch state (validators, health, schedule)."""

    __table_args__ = (UniqueConstraint("monitor", "name", name="uq_feed_monitor_name"),)

    id: int | None = Field(default=None, primary_key=True)
    current_url: str | None = Field(default=None, max_length=2000)
    etag: str | None = Field(default=None, max_length=500)
    last_modified: str | None = Field(default=None, max_length=200)
    polls_since_full: int = 0
    poll_count: int = 0
    consecutive_failures: int = 0
    last_polled_at: datetime | None = None
    last_success_at: datetime | None = None
    last_new_item_at: datetime | None = None
    next_due_at: datetime | None = None
    status: str = Field(default="new", max_length=20)
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    disabled_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    health_alert_open: bool = False
    health_episode: int = 0
    typical_gap_seconds: float | None = None
    possible_gaps: int = 0


class FeedPublic(FeedBase):
    id: int
    current_url: str | None
    status: str
    consecutive_failures: int
    last_success_at: datetime | None
    last_new_item_at: datetime | None
    next_due_at: datetime | None
    last_error: str | None


# --- seeds ---------------------------------------------------------------------------------
class SeedDocumentBase(SQLModel):
    monitor: str = Field(index=True, max_length=80)
    seed_id: str = Field(max_length=200)
    title: str = Field(default="", max_length=1000)
    outlet: str | None = Field(default=None, max_length=200)
    published: str | None = Field(default=None, max_length=40)
    event_date: str | None = Field(default=None, max_length=40)


class SeedDocument(SeedDocumentBase, table=True):
    """An article of the seed corpus: known coverage that never alerts."""

    __table_args__ = (UniqueConstraint("monitor", "seed_id", name="uq_seed_monitor_id"),)

    id: int | None = Field(default=None, primary_key=True)
    text: str = _text()
    text_hash: str = Field(max_length=64)
    topics: list[str] | None = _json(list)


class SeedDocumentPublic(SeedDocumentBase):
    id: int
    text_hash: str
    topics: list[str] | None


# --- articles ------------------------------------------------------------------------------
class ArticleBase(SQLModel):
    monitor: str = Field(index=True, max_length=80)
    url: str = Field(max_length=2000)
    guid: str | None = Field(default=None, max_length=2000)
    title: str = Field(default="", max_length=2000)
    published_at: datetime | None = None
    outlet: str | None = Field(default=None, max_length=200)


class Article(ArticleBase, table=True):
    """A stored article (one per canonical URL and monitor) with its verdicts."""

    __table_args__ = (
        UniqueConstraint("monitor", "url", name="uq_article_monitor_url"),
        Index("ix_article_monitor_guid", "monitor", "guid"),
        Index("ix_article_monitor_text_hash", "monitor", "text_hash"),
    )

    id: int | None = Field(default=None, primary_key=True)
    link: str = Field(max_length=2000)
    summary: str = _text()
    text: str = _text()
    text_source: str = Field(default="summary", max_length=20)
    extraction_note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    author: str | None = Field(default=None, max_length=500)
    sitename: str | None = Field(default=None, max_length=500)
    language: str | None = Field(default=None, max_length=20)
    content_hash: str = Field(max_length=64)
    text_hash: str = Field(max_length=64)
    version: int = 1
    first_seen_at: datetime
    updated_at: datetime
    duplicate_kind: str | None = Field(default=None, max_length=20)
    duplicate_ref: str | None = Field(default=None, max_length=200)
    duplicate_level: str | None = Field(default=None, max_length=20)
    duplicate_score: float | None = None
    relevant: bool = False
    actors: dict[str, list[str]] | None = _json(dict)
    development_id: int | None = Field(default=None, foreign_key="development.id", index=True)
    run_id: int | None = Field(default=None, foreign_key="run.id")


class ArticlePublic(ArticleBase):
    id: int
    link: str
    text_source: str
    first_seen_at: datetime
    version: int
    duplicate_kind: str | None
    duplicate_ref: str | None
    duplicate_level: str | None
    duplicate_score: float | None
    relevant: bool
    development_id: int | None
    topics: list[str] = []


class ArticleSource(SQLModel, table=True):
    """Which feed(s) an article was found through (the same article via two feeds is one row)."""

    __table_args__ = (UniqueConstraint("article_id", "feed_id", name="uq_source_article_feed"),)

    id: int | None = Field(default=None, primary_key=True)
    article_id: int = Field(foreign_key="article.id", index=True)
    feed_id: int = Field(foreign_key="feed.id", index=True)
    link: str = Field(max_length=2000)
    guid: str | None = Field(default=None, max_length=2000)
    first_seen_at: datetime


class ArticleVersion(SQLModel, table=True):
    """An earlier content of an article whose feed entry changed after it was stored."""

    __table_args__ = (UniqueConstraint("article_id", "version", name="uq_version_article"),)

    id: int | None = Field(default=None, primary_key=True)
    article_id: int = Field(foreign_key="article.id", index=True)
    version: int
    title: str = Field(default="", max_length=2000)
    summary: str = _text()
    text: str = _text()
    content_hash: str = Field(max_length=64)
    seen_at: datetime


class TopicTag(SQLModel, table=True):
    """A topic found in an article, with the terms and sentences that matched."""

    __table_args__ = (UniqueConstraint("article_id", "topic", name="uq_tag_article_topic"),)

    id: int | None = Field(default=None, primary_key=True)
    article_id: int = Field(foreign_key="article.id", index=True)
    topic: str = Field(max_length=80, index=True)
    terms: list[str] | None = _json(list)
    evidence: list[str] | None = _json(list)


# --- developments --------------------------------------------------------------------------
class DevelopmentBase(SQLModel):
    monitor: str = Field(index=True, max_length=80)
    title: str = Field(default="", max_length=2000)
    status: str = Field(default="new", max_length=20)  # new | known
    first_seen_at: datetime
    last_seen_at: datetime


class Development(DevelopmentBase, table=True):
    """One real-world event covered by one or more articles (or by a seed: status "known")."""

    __table_args__ = (UniqueConstraint("monitor", "seed_ref", name="uq_development_seed"),)

    id: int | None = Field(default=None, primary_key=True)
    topics: list[str] | None = _json(list)
    seed_ref: str | None = Field(default=None, max_length=200)
    seed_score: float | None = None
    article_count: int = 0
    outlets: list[str] | None = _json(list)
    #: The running story this development was split off (a new fact two outlets reported).
    parent_id: int | None = None


class DevelopmentPublic(DevelopmentBase):
    id: int
    topics: list[str] | None
    seed_ref: str | None
    article_count: int
    outlets: list[str] | None
    parent_id: int | None = None


# --- alerts (outbox) -----------------------------------------------------------------------
class AlertBase(SQLModel):
    monitor: str = Field(index=True, max_length=80)
    channel: str = Field(max_length=20)  # slack | email | outbox
    kind: str = Field(max_length=30)  # new_development|update|feed_health|feed_recovered|digest
    dedup_key: str = Field(max_length=300)
    status: str = Field(default="pending", max_length=20, index=True)  # pending|sending|sent|dead
    created_at: datetime


class Alert(AlertBase, table=True):
    """An alert owed on one channel; written with the development that causes it (the outbox).

    The unique key (monitor, channel, kind, dedup_key) is what makes an alert at most once per
    development and channel, whatever runs overlap.
    """

    __table_args__ = (
        UniqueConstraint("monitor", "channel", "kind", "dedup_key", name="uq_alert_once"),
    )

    id: int | None = Field(default=None, primary_key=True)
    development_id: int | None = Field(default=None, foreign_key="development.id", index=True)
    article_id: int | None = Field(default=None, foreign_key="article.id")
    feed_id: int | None = Field(default=None, foreign_key="feed.id")
    subject: str = Field(default="", max_length=1000)
    payload: dict[str, Any] | None = _json(dict)
    attempts: int = 0
    next_attempt_at: datetime | None = None
    claimed_until: datetime | None = None
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    sent_at: datetime | None = None
    run_id: int | None = Field(default=None, foreign_key="run.id")


class AlertPublic(AlertBase):
    id: int
    development_id: int | None
    subject: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    sent_at: datetime | None


class DeliveryAttempt(SQLModel, table=True):
    """One try to deliver an alert, and how it ended."""

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(foreign_key="alert.id", index=True)
    at: datetime
    outcome: str = Field(max_length=20)  # sent | transient | permanent
    detail: str = _text()


# --- runs ----------------------------------------------------------------------------------
class Run(SQLModel, table=True):
    """One monitoring pass, with the Prefect flow run it belongs to and its summary."""

    id: int | None = Field(default=None, primary_key=True)
    monitor: str = Field(index=True, max_length=80)
    flow_run_id: str | None = Field(default=None, max_length=64)
    #: "K/N" when the run polled one shard of the monitor's feeds (`monitors.shard`)
    shard: str | None = Field(default=None, max_length=16)
    started_at: datetime
    finished_at: datetime | None = None
    summary: dict[str, Any] | None = _json(dict)


# --- dedup index -----------------------------------------------------------------------------
#: `DedupBand.band` of title bands: TITLE_BAND_BASE + band (text bands are 0 .. lsh_bands - 1).
TITLE_BAND_BASE = 1000


class DedupDoc(SQLModel, table=True):
    """What duplicate verification needs of a stored article, written when it is stored."""

    __tablename__ = "dedup_doc"
    __table_args__ = (Index("ix_dedup_doc_monitor_exact", "monitor", "exact"),)

    article_id: int = Field(
        sa_column=Column(Integer, ForeignKey("article.id", ondelete="CASCADE"), primary_key=True)
    )
    monitor: str = Field(max_length=80)
    n_words: int
    title_norm: str = _text()
    #: normalized text, kept only for short texts (long ones are read from `article.text`)
    short_norm: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    #: SHA-256 of the normalized text (or of title and text for short ones), when exact-able
    exact: bytes | None = Field(default=None, sa_column=Column(LargeBinary(32), nullable=True))
    #: sorted unique 3-gram shingle hashes, little-endian uint32
    shingles: bytes = Field(default=b"", sa_column=Column(LargeBinary, nullable=False))


class DedupBand(SQLModel, table=True):
    """One LSH band key of a stored article: candidates are the articles sharing (band, key)."""

    __tablename__ = "dedup_band"
    # on SQLite the primary key is the table (migration 0008): one b-tree insert a row
    __table_args__ = (Index("ix_dedup_band_article", "article_id"), {"sqlite_with_rowid": False})

    monitor: str = Field(max_length=80, primary_key=True)
    band: int = Field(sa_column=Column(SmallInteger, primary_key=True, autoincrement=False))
    key: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    article_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("article.id", ondelete="CASCADE"),
            primary_key=True,
            autoincrement=False,
        )
    )


class DedupProgress(SQLModel, table=True):
    """How far a monitor's articles are known to have index rows (all ids up to this one)."""

    __tablename__ = "dedup_progress"

    monitor: str = Field(max_length=80, primary_key=True)
    indexed_through: int = 0


# --- shard rounds ----------------------------------------------------------------------------
class StagedCandidate(SQLModel, table=True):
    """An extracted entry a shard's run staged for the round's one process batch
    (`pipeline.stage`); deleted in the transaction that stores it."""

    __tablename__ = "staged_candidate"

    id: int | None = Field(default=None, primary_key=True)
    monitor: str = Field(index=True, max_length=80)
    #: "K/N" of the run that staged it
    shard: str = Field(max_length=16)
    run_id: int | None = None
    feed: str = Field(max_length=80)
    #: its place in the staging run's candidate list (harvest order: feed, then entry)
    position: int
    staged_at: datetime
    #: the `pipeline.extract.Candidate`, as JSON text (`pipeline.stage.candidate_json`)
    payload: str = _text()


class StagedShard(SQLModel, table=True):
    """A shard's arrival in the monitor's open round: its run staged its candidates (maybe
    none); deleted with the round's candidates when the round is processed."""

    __tablename__ = "staged_shard"

    id: int | None = Field(default=None, primary_key=True)
    monitor: str = Field(index=True, max_length=80)
    shard: str = Field(max_length=16)
    run_id: int | None = None
    candidates: int = 0
    staged_at: datetime
