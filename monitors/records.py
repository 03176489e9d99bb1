"""Plain data records passed between the pipeline stages (not database tables)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

MatchKind = Literal["seed", "article"]
MatchLevel = Literal["url", "guid", "exact", "near", "containment", "title"]


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One entry of a parsed feed."""

    feed: str
    guid: str | None
    link: str
    url: str
    title: str
    summary: str
    published: datetime | None
    content_hash: str


@dataclass(slots=True)
class ExtractedText:
    """Full text and metadata of an article, from its page or, failing that, from the feed."""

    url: str
    title: str
    text: str
    source: Literal["page", "summary"]
    author: str | None = None
    published: datetime | None = None
    sitename: str | None = None
    language: str | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class DedupMatch:
    """What a text duplicates (a seed or a stored article), by which level, with what score."""

    kind: MatchKind
    ref: str
    level: MatchLevel
    score: float
    title: str = ""


@dataclass(frozen=True, slots=True)
class TopicHit:
    """A topic found in a text, with the terms that matched and the sentences around them."""

    topic: str
    terms: tuple[str, ...]
    evidence: tuple[str, ...]


@dataclass(slots=True)
class Tagging:
    """The result of topic tagging: relevance (actors present) and topics with evidence."""

    relevant: bool
    actors: dict[str, list[str]] = field(default_factory=dict)
    topics: list[TopicHit] = field(default_factory=list)

    def topic_names(self) -> list[str]:
        """Names of the topics found, in order."""
        return [t.topic for t in self.topics]
