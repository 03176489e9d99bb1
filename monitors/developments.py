"""Developments: one real-world event followed across outlets and days.

An article is compared with the developments of the last `window` days (and with every seed
development, at any date) on a TF-IDF profile of words and names from its title and lead. The
best match above a threshold is its development; a materially new fact starts a new one:
either no development is similar enough, or the match lacks one of the article's *watched*
topics (a sanctions angle appearing on an arms story is news even if the story is known).

Candidates come from an inverted index (feature -> developments, newest last), scanned from the
newest end for the article's rarer features only, so assignment cost does not grow with the
number of stored developments.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from monitors.topics import entities as _entities
from monitors.topics import normalize, split_sentences

Status = Literal["new", "known"]

#: Cosine (0-1, plus TOPIC_BONUS) against the best member report at which an article joins a
#: development. Chosen on the labelled rss2023 events (docs/topics.md): 0.18 merges more
#: (B-cubed P 0.79 R 0.83), 0.22 splits more (R 0.74); 0.20 keeps every required alert.
MATCH_THRESHOLD = 0.2
#: Seeds match at any date, so they need much stronger evidence than a report of the same
#: days: below ~0.45 generic seed leads ("pressure from South Korea, the US and Japan") absorb
#: unrelated North Korea stories and, by chaining, suppress their alerts.
SEED_THRESHOLD = 0.45
#: Added to the cosine when the article and the development share a topic (same angle).
TOPIC_BONUS = 0.10
#: Names (people, places, organisations) weigh more than ordinary words.
ENTITY_BOOST = 1.5
#: Words of the lead used for matching: the headline and lead carry a story's own news;
#: background recaps (which must not make a seed cover an older event) come later.
LEAD_WORDS = 70
#: At most this many lead sentences (seed pages open with short boilerplate lines, skipped).
LEAD_SENTENCES = 4
#: A lead sentence needs this many words (drops "Newsletter", "Home » World »" lines).
MIN_LEAD_SENTENCE_WORDS = 4
#: Postings scanned per query feature, newest first. Developments are added roughly in time
#: order, so the newest postings are the ones inside the window.
MAX_POSTINGS_SCAN = 150
#: Features held by more than this share of developments are too common to retrieve with.
MAX_DF_SHARE = 0.02
#: ...but a small index keeps every feature (the share is meaningless below this size).
MIN_DF_CAP = 50
#: Query features used for retrieval: the rarest ones.
MAX_QUERY_FEATURES = 32

_STOP = set(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "if",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "with",
        "from",
        "into",
        "onto",
        "over",
        "under",
        "about",
        "after",
        "before",
        "amid",
        "among",
        "as",
        "than",
        "then",
        "that",
        "this",
        "these",
        "those",
        "it",
        "its",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "has",
        "have",
        "had",
        "do",
        "does",
        "did",
        "will",
        "would",
        "could",
        "should",
        "may",
        "might",
        "can",
        "must",
        "not",
        "no",
        "yes",
        "so",
        "such",
        "he",
        "she",
        "they",
        "we",
        "you",
        "i",
        "his",
        "her",
        "their",
        "our",
        "your",
        "him",
        "them",
        "us",
        "me",
        "my",
        "who",
        "whom",
        "whose",
        "which",
        "what",
        "when",
        "where",
        "why",
        "how",
        "all",
        "any",
        "both",
        "each",
        "more",
        "most",
        "other",
        "some",
        "new",
        "says",
        "said",
        "say",
        "saying",
        "told",
        "tells",
        "according",
        "report",
        "reports",
        "reported",
        "also",
        "just",
        "now",
        "still",
        "after",
        "while",
        "during",
        "since",
        "week",
        "weeks",
        "day",
        "days",
        "year",
        "years",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "one",
        "two",
        "three",
        "first",
        "last",
        "latest",
        "live",
        "update",
        "updates",
        "video",
        "watch",
        "photos",
        "s",
        "t",
        "up",
        "out",
        "off",
        "amp",
        "quot",
        "via",
        "per",
    ]
)
#: The North Korea-Russia monitor's subject words (see `features`).
SCOPE_WORDS = frozenset(
    [
        "north",
        "korea",
        "korean",
        "koreans",
        "nk",
        "dprk",
        "pyongyang",
        "kim",
        "jong",
        "un",
        "russia",
        "russian",
        "russians",
        "moscow",
        "kremlin",
    ]
)


def _stem(tok: str) -> str:
    if len(tok) > 4 and tok.endswith("ies"):
        return tok[:-3] + "y"
    if len(tok) > 3 and tok.endswith("s") and not tok.endswith("ss"):
        return tok[:-1]
    return tok


def lead(text: str) -> str:
    """The lead of a text: its first substantial sentences, up to about LEAD_WORDS words."""
    out: list[str] = []
    words = 0
    for s in split_sentences(text):
        n = len(s.split())
        if n < MIN_LEAD_SENTENCE_WORDS or "»" in s:
            continue
        out.append(s)
        words += n
        if words >= LEAD_WORDS or len(out) >= LEAD_SENTENCES:
            break
    return " ".join(out)


def features(
    title: str,
    text: str,
    *,
    entity_fn: Callable[[str, str], set[str]] = _entities,
    scope_words: frozenset[str] = SCOPE_WORDS,
) -> set[str]:
    """Matching features of an article: stemmed content words and ``e:``-prefixed names.

    Words in `scope_words` (the monitor's own subject: "North Korea", "Kim Jong Un") are left
    out: every article of the monitor has them, so they say nothing about which event it is.
    """
    body = lead(text)
    feats = {
        _stem(t)
        for t in normalize(f"{title} {body}").split()
        if len(t) > 1 and t not in _STOP and t not in scope_words and not t.isdigit()
    }
    for e in entity_fn(title, body):
        if not set(e.split()) <= scope_words:
            feats.add("e:" + e)
    return feats


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
    #: With `key` None: the development the article resembles but adds a new watched topic to.
    related: str | None = None


@dataclass(slots=True)
class _Member:
    """One article (or a seed's headline and lead) of a development."""

    key: str
    feats: frozenset[str]
    norm: float
    published: datetime
    seed: bool = False


class DevelopmentIndex:
    """Developments in memory with an inverted index for candidate retrieval.

    Matching is single-link: an article is scored against each member article of the
    developments in the window (best member wins), so a development that has grown over days
    still matches a new article close to any one of its reports.
    """

    def __init__(
        self,
        *,
        window: timedelta = timedelta(days=3),
        threshold: float = MATCH_THRESHOLD,
        seed_threshold: float = SEED_THRESHOLD,
        entity_fn: Callable[[str, str], set[str]] = _entities,
    ) -> None:
        """An empty index; `window` is how far apart in time two reports of one development be."""
        self.window = window
        self.threshold = threshold
        self.seed_threshold = seed_threshold
        self._entity_fn = entity_fn
        self._refs: dict[str, DevelopmentRef] = {}
        self._members: list[_Member] = []
        self._seed_members: list[_Member] = []
        self._postings: dict[str, list[int]] = {}
        self._df: dict[str, int] = {}

    def __len__(self) -> int:
        """Number of developments."""
        return len(self._refs)

    # ----------------------------------------------------------------------------------------
    def _idf(self, feat: str) -> float:
        n = len(self._members) + 1
        w = math.log((n + 1) / (self._df.get(feat, 0) + 1)) + 1.0
        return w * ENTITY_BOOST if feat.startswith("e:") else w

    def _norm(self, feats: Iterable[str]) -> float:
        return math.sqrt(sum(self._idf(f) ** 2 for f in feats)) or 1.0

    def _add_member(self, key: str, feats: set[str], published: datetime, *, seed: bool) -> None:
        for f in feats:
            self._df[f] = self._df.get(f, 0) + 1
        member = _Member(key, frozenset(feats), self._norm(feats), published, seed)
        if seed:
            # Seed leads are scored directly (few of them, no time window), not via postings.
            self._seed_members.append(member)
            return
        mid = len(self._members)
        self._members.append(member)
        for f in feats:
            self._postings.setdefault(f, []).append(mid)

    def add(
        self,
        *,
        key: str,
        title: str,
        text: str,
        topics: frozenset[str],
        published: datetime,
        status: Status = "new",
        seed_ref: str | None = None,
        headline_topics: frozenset[str] | None = None,
    ) -> None:
        """Register a development (from the database, a seed, or a newly alerted article).

        With `seed_ref` set it is a seed development: its title and lead match at any date.
        `topics` should be everything the source reports (for a seed, the tags of its whole
        text), so that a later article on one of those aspects is not taken for a new fact.
        `headline_topics` (default: `topics`) are the topics of its headline.
        """
        if key in self._refs:
            raise ValueError(f"development {key!r} is already registered")
        self._refs[key] = DevelopmentRef(
            key=key,
            title=title,
            topics=frozenset(topics),
            first_seen=published,
            last_seen=published,
            status=status,
            seed_ref=seed_ref,
            headline_topics=frozenset(topics if headline_topics is None else headline_topics),
        )
        feats = features(title, text, entity_fn=self._entity_fn)
        self._add_member(key, feats, published, seed=seed_ref is not None)

    def get(self, key: str) -> DevelopmentRef:
        """The development called `key` (KeyError if unknown)."""
        return self._refs[key]

    def touch(
        self,
        key: str,
        *,
        title: str,
        text: str,
        topics: frozenset[str],
        published: datetime,
        headline_topics: frozenset[str] | None = None,
    ) -> None:
        """An article joined `key`: extend its dates and topics, add it as a member."""
        ref = self._refs[key]
        ref.last_seen = max(ref.last_seen, published)
        ref.first_seen = min(ref.first_seen, published)
        ref.topics = ref.topics | topics
        ref.headline_topics = ref.headline_topics | (
            topics if headline_topics is None else headline_topics
        )
        self._add_member(
            key, features(title, text, entity_fn=self._entity_fn), published, seed=False
        )

    # ----------------------------------------------------------------------------------------
    def _candidates(self, feats: set[str], published: datetime) -> dict[int, float]:
        """Dot products (sum of shared idf^2) with members in the window sharing rare features."""
        cap = max(MIN_DF_CAP, int(MAX_DF_SHARE * len(self._members)))
        usable = sorted(
            (f for f in feats if 0 < self._df.get(f, 0) <= cap), key=lambda f: self._df[f]
        )
        lo, hi = published - self.window, published + self.window
        acc: dict[int, float] = {}
        members = self._members
        for f in usable[:MAX_QUERY_FEATURES]:
            postings = self._postings.get(f)
            if not postings:
                continue
            w2 = self._idf(f) ** 2
            for mid in reversed(postings[-MAX_POSTINGS_SCAN:]):
                if mid in acc:
                    acc[mid] += w2
                elif lo <= members[mid].published <= hi:
                    acc[mid] = w2
        # Common features (above the cap) still count toward the candidates' scores.
        common = [f for f in feats if self._df.get(f, 0) > cap]
        if common and acc:
            weights = [(f, self._idf(f) ** 2) for f in common]
            for mid in acc:
                mf = members[mid].feats
                acc[mid] += sum(w for f, w in weights if f in mf)
        return acc

    def _explain(self, feats: set[str], other: Iterable[str]) -> str:
        shared = sorted(feats & set(other), key=self._idf, reverse=True)[:5]
        return ", ".join(dict.fromkeys(f.removeprefix("e:") for f in shared)) or "nothing"

    def assign(
        self,
        *,
        title: str,
        text: str,
        topics: frozenset[str],
        published: datetime,
        watched: frozenset[str],
        headline_topics: frozenset[str] | None = None,
    ) -> Assignment:
        """Decide whether an article joins a development or starts a new one (key None).

        A materially new fact starts a new development even when the article resembles one:
        a watched topic the development does not have yet, or (with `headline_topics` given)
        a watched topic in the article's headline that none of the development's headlines
        had (e.g. "US sanctions Russian firm..." on a story that only mentioned UN resolutions).
        """
        feats = features(title, text, entity_fn=self._entity_fn)
        qnorm = self._norm(feats)
        best: _Member | None = None
        best_score = 0.0
        for mid, dot in self._candidates(feats, published).items():
            m = self._members[mid]
            score = dot / (qnorm * m.norm)
            if topics & self._refs[m.key].topics:
                score += TOPIC_BONUS
            if score >= self.threshold and score > best_score:
                best, best_score = m, score
        for m in self._seed_members:
            shared = feats & m.feats
            if not shared:
                continue
            ref = self._refs[m.key]
            if topics and ref.topics and not topics & ref.topics:
                continue  # a seed covers its own angle of the story, not an unrelated one
            score = sum(self._idf(f) ** 2 for f in shared) / (qnorm * m.norm)
            if score >= self.seed_threshold and score > best_score:
                best, best_score = m, score
        if best is None:
            return Assignment(
                key=None,
                score=round(best_score, 3),
                reason=f"new development: nothing within {self.window.days} days (or a seed's "
                f"headline/lead) scores {self.threshold:.2f} or more",
                new_topics=frozenset(topics),
            )
        ref = self._refs[best.key]
        new_watched = (topics & watched) - ref.topics
        if headline_topics is not None:
            new_watched |= (headline_topics & watched) - ref.headline_topics
        how = (
            f"seed {ref.seed_ref} headline/lead"
            if best.seed
            else f"report of {best.published:%Y-%m-%d}"
        )
        if new_watched:
            return Assignment(
                key=None,
                score=round(best_score, 3),
                reason=f"new development: resembles {best.key!r} ({ref.title[:80]!r}, score "
                f"{best_score:.2f}) but adds watched topic(s) {', '.join(sorted(new_watched))}",
                new_topics=frozenset(new_watched),
                related=best.key,
            )
        return Assignment(
            key=best.key,
            score=round(best_score, 3),
            reason=f"same development as {best.key!r} ({ref.title[:80]!r}): score "
            f"{best_score:.2f} against its {how}; shared: {self._explain(feats, best.feats)}",
            new_topics=frozenset(topics - ref.topics),
        )
