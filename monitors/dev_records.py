"""Developments' settings (thresholds, windows) and the records the index hands out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from monitors.wordlists import load_word_list

Status = Literal["new", "known"]

#: Cosine (0-1, plus TOPIC_BONUS) against the best member report at which an article joins a
#: development. Chosen on the labelled rss2023 events (docs/topics.md): 0.18 merges more
#: (B-cubed P 0.79 R 0.83), 0.22 splits more (R 0.74); 0.20 keeps every required alert.
MATCH_THRESHOLD = 0.2
#: Cosine at which an article may join a seed development; a seed match also needs a shared rare
#: name (SEED_ENTITY_DF_SHARE) and one of the seed's topics, or generic seed leads ("pressure
#: from South Korea, the US and Japan") absorb unrelated stories and suppress their alerts.
SEED_THRESHOLD = 0.12
#: A seed whose news date is known covers articles from this long before it (the run-up: an
#: announced visit is covered by a seed reporting the visit itself)...
SEED_COVERS_BEFORE = timedelta(days=30)
#: ...to this long after it (later stages are new facts; follow-ups come within days). Without
#: this a 2024 seed ("Putin to visit Pyongyang") absorbs the 2023 Kim-Putin summit coverage.
SEED_COVERS_AFTER = timedelta(days=7)
#: A seed match must share a name (``e:`` feature) held by at most this share of stored
#: reports (or SEED_ENTITY_MIN_DF of them): "Lavrov", not "South Korea" or "Ukraine".
SEED_ENTITY_DF_SHARE = 0.02
SEED_ENTITY_MIN_DF = 5
#: Countries and capitals: the setting of a story, not what identifies it (a seed is not
#: matched on "Ukraine" or "Japan" alone).
_PLACE_WORDS = load_word_list("place_words.txt")
#: Added to the cosine when the article and the development share a topic (same angle).
TOPIC_BONUS = 0.10
#: Reports further apart than the window but within LONG_WINDOW still join at LONG_THRESHOLD.
LONG_WINDOW = timedelta(days=7)
LONG_THRESHOLD = 0.4
#: Member and profile norms are recomputed (lazily, when scored) once the index has grown by
#: this share (plus NORM_REFRESH_MIN members) since they were computed.
NORM_REFRESH = 0.1
NORM_REFRESH_MIN = 20
#: Score against developments' pooled profiles too (see DevelopmentIndex).
USE_PROFILE = True
#: Names (people, places, organisations) weigh more than ordinary words.
ENTITY_BOOST = 1.0
#: Postings scanned per query feature, newest first. Developments are added roughly in time
#: order, so the newest postings are the ones inside the window.
MAX_POSTINGS_SCAN = 150
#: Features held by more than this share of developments are too common to retrieve with.
MAX_DF_SHARE = 0.02
#: ...but a small index keeps every feature (the share is meaningless below this size).
MIN_DF_CAP = 50
#: Query features used for retrieval: the rarest ones.
MAX_QUERY_FEATURES = 32

# -- Running stories (monitors/dev_novelty.py) ----------------------------------------------
#: A development is a running story when it drew at least HOT_REPORTS reports from at least
#: HOT_OUTLETS outlets within HOT_SPAN of an article: many outlets covering one story at once,
#: when every outlet also writes follow-ups, analysis and new angles of it.
HOT_SPAN = timedelta(hours=48)
HOT_REPORTS = 8
HOT_OUTLETS = 4
#: In a running story an article resembling it at this (lower) bar is one of its follow-ups,
#: not a new story, even in words the story's reports did not use (opinion, features).
STORY_THRESHOLD = 0.12
#: A word of an article is new to a development when fewer than this share of its reports
#: have it.
NOVEL_SHARE = 0.05
#: Two reports from different outlets within CORROBORATE_SPAN whose new words (weighted by
#: rarity) overlap at this cosine report the same new fact: a new development of the story.
CORROBORATE_SPAN = timedelta(hours=36)
#: A story's first news cycle (from when it broke: the first moment it was a running story;
#: a fact split from it has none of its own): what emerges then (who was on board, footage,
#: first reactions) is the story, not a new development.
FIRST_CYCLE = timedelta(hours=12)
#: A new fact of a story reported within SIBLING_SPAN of the last report of another new fact
#: split from the same story, in two of that fact's words or under a topic the story hardly has
#: (RARE_TOPIC_SHARE), is that fact emerging in other words (a funeral: "Putin will not attend",
#: "buried in private", "memorial held"), not a second development.
SIBLING_SPAN = timedelta(hours=6)
#: A topic at most this share of a story's reports carry is not what the story is about.
RARE_TOPIC_SHARE = 0.1
CORROBORATE_THRESHOLD = 0.3
#: ...and share at least this many new, uncommon things (a name counts once with its words)...
CORROBORATE_MIN_SHARED = 2
#: ...held by at most this share of all reports, or MIN_UNCOMMON_DF. Function words are the
#: stop list's job (monitors/data/grouping_stopwords.txt); at 0.02 this cap also dropped a
#: big story's own new words ("crash" once a few reports had it). Wagner Aug-Sep in process:
#: 0.05, 0.1 and no cap at all give the same alerts.
UNCOMMON_SHARE = 0.05
MIN_UNCOMMON_DF = 5
#: ...and what they have in common is at least this share (rarity-weighted) new to the story.
NEW_SHARE = 0.5
#: A split-off development's fact: the uncommon features at least this share of its reports
#: have (and at least two). A report of the story without them follows the story, not the fact.
FACT_SHARE = 0.5


@dataclass
class DevelopmentRef:
    """A development as the pipeline sees it."""

    key: str
    title: str
    topics: frozenset[str]
    first_seen: datetime
    last_seen: datetime
    status: Literal["new", "known"]
    seed_ref: str | None
    #: Topics found in the headlines of its reports (a headline carries the news).
    headline_topics: frozenset[str] = frozenset()


@dataclass
class Assignment:
    """Where an article goes: an existing development (`key`) or a new one (`key` None)."""

    key: str | None
    score: float
    reason: str
    new_topics: frozenset[str]
    #: With `key` None: the development the article resembles but adds a new watched topic to,
    #: or the running story a corroborated new fact splits from.
    related: str | None = None
    #: Earlier reports (their `ref`s) of the same new fact from other outlets, which move with
    #: the article: to the new development (`key` None), or to the sibling fact it joins.
    corroborated_by: tuple[str, ...] = ()


@dataclass(slots=True)
class _Member:
    """One article (or a seed's headline and lead) of a development."""

    key: str
    feats: frozenset[str]
    norm: float
    published: datetime
    seed: bool = False
    #: For a seed whose news has a known date: the date of that news (see SEED_COVERS_*).
    event_date: datetime | None = None
    #: Index size when `norm` was computed (IDF drifts as the index grows; see `_fresh_norm`).
    norm_at: int = 0
    #: The article's id (None for seeds and developments loaded without their reports).
    ref: str | None = None
    outlet: str | None = None
    #: The article's topics.
    topics: frozenset[str] = frozenset()


@dataclass(slots=True)
class _Profile:
    """The reports of one development pooled: feature -> number of reports that have it."""

    counts: dict[str, int]
    n: int = 0
    norm: float = 0.0
    #: Index size when `norm` was computed; -1 = stale (a report was added since).
    norm_at: int = -1
