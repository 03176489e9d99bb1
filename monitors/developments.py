"""Developments: one real-world event followed across outlets and days.

An article is compared with the developments of the last `window` days (a stronger match up to
`long_window`), and with every seed development at any date, on a TF-IDF profile of stemmed
words and names from its title and lead: against each member report (single link) and against
each development's pooled reports (profile). The best match above a threshold is its
development; a materially new fact starts a new one: either no development is similar enough,
or the match (and every other passing development) lacks one of the article's *watched* topics
(a sanctions angle appearing on an arms story is news even if the story is known). Seeds match
only on a shared rare name and one of their topics, and win over reports when they match.

Candidates come from an inverted index (feature -> developments, newest last), scanned from the
newest end for the article's rarer features only, so assignment cost does not grow with the
number of stored developments.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from monitors.dev_features import Scope, default_scope, features, vocabulary
from monitors.dev_novelty import (
    in_story,
    is_running,
    move_members,
    route_to_story,
    running_story,
    watched_news,
)
from monitors.dev_records import (
    _PLACE_WORDS,
    ENTITY_BOOST,
    LONG_THRESHOLD,
    LONG_WINDOW,
    MATCH_THRESHOLD,
    NORM_REFRESH,
    NORM_REFRESH_MIN,
    SEED_ENTITY_DF_SHARE,
    SEED_ENTITY_MIN_DF,
    SEED_THRESHOLD,
    Assignment,
    DevelopmentRef,
    Status,
    _Member,
    _Profile,
)
from monitors.dev_retrieval import score_candidates
from monitors.dev_seeds import seed_match
from monitors.entities import entities as _entities


class DevelopmentIndex:
    """Developments in memory with an inverted index for candidate retrieval.

    An article is scored against each member report of the developments in the window (single
    link: best member wins, so a development that has grown over days still matches an article
    close to any one of its reports) and against each candidate development's pooled profile
    (the centroid of its reports: an article that shares a little with each of several reports,
    in different words, still matches the development as a whole).
    """

    def __init__(
        self,
        *,
        window: timedelta = timedelta(days=3),
        threshold: float = MATCH_THRESHOLD,
        seed_threshold: float = SEED_THRESHOLD,
        entity_fn: Callable[[str, str], set[str]] = _entities,
        long_window: timedelta = LONG_WINDOW,
        long_threshold: float = LONG_THRESHOLD,
        scope: Scope | None = None,
    ) -> None:
        """An empty index; `window` is how far apart in time two reports of one development be.

        Beyond `window` and up to `long_window` a report still joins at `long_threshold` (a
        follow-up days later that names the same people and facts).
        """
        self.window = window
        self.threshold = threshold
        self.seed_threshold = seed_threshold
        self.long_window = max(long_window, window)
        self.long_threshold = long_threshold
        #: The monitor's subject, left out of matching (dev_features.scope_of).
        self.scope = scope or default_scope()
        self._entity_fn = entity_fn
        self._refs: dict[str, DevelopmentRef] = {}
        self._members: list[_Member] = []
        #: Members' publication times (POSIX seconds), parallel to `_members`, and whether they
        #: were added in time order (then a newest-first postings scan may stop at the window).
        self._member_ts: list[float] = []
        self._in_time_order = True
        self._seed_members: list[_Member] = []
        self._profiles: dict[str, _Profile] = {}
        self._postings: dict[str, list[int]] = {}
        self._df: dict[str, int] = {}
        #: Member ids of each development's reports.
        self._by_dev: dict[str, list[int]] = {}
        #: Everything a seed development's seed says (its whole text), and its news date.
        self._vocab: dict[str, frozenset[str]] = {}
        #: Each seed vocabulary's norm and the index size it was computed at.
        self._vocab_norm: dict[str, tuple[float, int]] = {}
        self._event_dates: dict[str, datetime] = {}
        #: Developments split off a running story -> that story.
        self._parent: dict[str, str] = {}

    def __len__(self) -> int:
        """Number of developments."""
        return len(self._refs)

    def __contains__(self, key: object) -> bool:
        """Whether development `key` is registered."""
        return key in self._refs

    # ----------------------------------------------------------------------------------------
    def _idf(self, feat: str) -> float:
        n = len(self._members) + 1
        w = math.log((n + 1) / (self._df.get(feat, 0) + 1)) + 1.0
        return w * ENTITY_BOOST if feat.startswith("e:") else w

    def _norm(self, feats: Iterable[str]) -> float:
        return math.sqrt(sum(self._idf(f) ** 2 for f in feats)) or 1.0

    def _stale(self, norm_at: int) -> bool:
        """True when the index grew enough since `norm_at` for IDF (and norms) to have moved."""
        n = len(self._members)
        return norm_at < 0 or n > norm_at * (1.0 + NORM_REFRESH) + NORM_REFRESH_MIN

    def _fresh_norm(self, m: _Member) -> float:
        """`m.norm`, recomputed with the current IDF when the index has grown since.

        Without this a member stored when the index was small (a seed registered first) keeps
        a norm of flat IDFs and later scores inflated cosines against everything.
        """
        if self._stale(m.norm_at):
            m.norm = self._norm(m.feats)
            m.norm_at = len(self._members)
        return m.norm

    def _profile_score(self, key: str, feats: set[str], qnorm: float) -> float:
        """Cosine of the article with the pooled profile of development `key` (0 if < 2 reports)."""
        prof = self._profiles.get(key)
        if prof is None or prof.n < 2:
            return 0.0
        if self._stale(prof.norm_at):
            prof.norm = (
                math.sqrt(sum((self._idf(f) * c) ** 2 for f, c in prof.counts.items())) or 1.0
            )
            prof.norm_at = len(self._members)
        counts = prof.counts
        dot = sum(self._idf(f) ** 2 * counts[f] for f in feats if f in counts)
        return dot / (qnorm * prof.norm)

    def _add_member(
        self,
        key: str,
        feats: set[str],
        published: datetime,
        *,
        seed: bool,
        ref: str | None = None,
        outlet: str | None = None,
        topics: frozenset[str] = frozenset(),
    ) -> None:
        for f in feats:
            self._df[f] = self._df.get(f, 0) + 1
        member = _Member(
            key,
            frozenset(feats),
            self._norm(feats),
            published,
            seed,
            norm_at=len(self._members),
            ref=ref,
            outlet=outlet,
            topics=topics,
        )
        if seed:
            # Seed leads are scored directly (few of them, no time window), not via postings.
            self._seed_members.append(member)
            return
        mid = len(self._members)
        self._members.append(member)
        self._by_dev.setdefault(key, []).append(mid)
        ts = published.timestamp()
        if self._member_ts and ts < self._member_ts[-1]:
            self._in_time_order = False
        self._member_ts.append(ts)
        for f in feats:
            self._postings.setdefault(f, []).append(mid)
        prof = self._profiles.get(key)
        if prof is None:
            prof = self._profiles[key] = _Profile(counts={})
        for f in feats:
            prof.counts[f] = prof.counts.get(f, 0) + 1
        prof.n += 1
        prof.norm_at = -1

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
        event_date: datetime | None = None,
        ref: str | None = None,
        outlet: str | None = None,
        parent: str | None = None,
    ) -> None:
        """Register a development (from the database, a seed, or a newly alerted article).

        With `seed_ref` set it is a seed development: its title and lead match at any date, or,
        when the seed's `event_date` (the date of its own news) is known, only articles from
        SEED_COVERS_BEFORE before to SEED_COVERS_AFTER after it.
        `topics` should be everything the source reports (for a seed, the tags of its whole
        text), so that a later article on one of those aspects is not taken for a new fact.
        `headline_topics` (default: `topics`) are the topics of its headline. `ref` and `outlet`
        name the report (an article id) and who published it; `parent` the running story it
        was split off from.
        """
        heads = topics if headline_topics is None else headline_topics
        self._register(key, title, topics, published, status, seed_ref, heads, parent)
        feats = features(title, text, entity_fn=self._entity_fn, scope=self.scope)
        seed = seed_ref is not None
        self._add_member(key, feats, published, seed=seed, ref=ref, outlet=outlet, topics=topics)
        if seed_ref is not None:
            self._vocab[key] = vocabulary(title, text, entity_fn=self._entity_fn, scope=self.scope)
            if event_date is not None:
                self._event_dates[key] = event_date
            self._seed_members[-1].event_date = event_date

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
        ref: str | None = None,
        outlet: str | None = None,
    ) -> None:
        """An article joined `key`: extend its dates and topics, add it as a member."""
        dev = self._refs[key]
        dev.last_seen = max(dev.last_seen, published)
        dev.first_seen = min(dev.first_seen, published)
        dev.topics = dev.topics | topics
        dev.headline_topics = dev.headline_topics | (
            topics if headline_topics is None else headline_topics
        )
        feats = features(title, text, entity_fn=self._entity_fn, scope=self.scope)
        self._add_member(key, feats, published, seed=False, ref=ref, outlet=outlet, topics=topics)

    # ----------------------------------------------------------------------------------------
    def _names_rare_entity(self, shared: Iterable[str]) -> bool:
        """True when `shared` holds a name (``e:``) that few developments mention."""
        cap = max(SEED_ENTITY_MIN_DF, SEED_ENTITY_DF_SHARE * len(self._members))
        return any(
            f.startswith("e:")
            and self._df.get(f, 0) <= cap
            and not set(f[2:].split()) <= _PLACE_WORDS
            for f in shared
        )

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
        outlet: str | None = None,
    ) -> Assignment:
        """Decide whether an article joins a development or starts a new one (key None).

        In a quiet story a materially new fact starts a new development even when the article
        resembles one: a watched topic the development does not have yet, or (with
        `headline_topics` given) a watched topic in the article's headline that none of the
        development's headlines had; once a development has alerted, only the headline counts.
        In a running story (monitors/dev_novelty.py) follow-ups join it, and a new fact splits
        off once a second outlet (`outlet`) reports it.
        """
        feats = features(title, text, entity_fn=self._entity_fn, scope=self.scope)
        qnorm = self._norm(feats)
        passing, loose, top = score_candidates(self, feats, topics, published, qnorm)
        route_to_story(self, feats, passing, loose)
        seed_hit = seed_match(self, feats, topics, published, qnorm)
        if seed_hit is None and not passing:
            if (hot := running_story(self, loose, published)) is not None:
                return in_story(self, hot, loose[hot], feats, topics, published, outlet, "follows")
            return Assignment(
                key=None,
                score=round(top, 3),
                reason=f"new development: nothing within {self.window.days} days (or a seed's "
                f"headline/lead) scores {self.threshold:.2f} or more",
                new_topics=frozenset(topics),
            )

        def new_watched(key: str) -> frozenset[str]:
            return watched_news(self, key, topics, headline_topics, watched)

        # A seed that matches wins over reports (except over the new facts split off from its
        # story that match better): it is what the brief already knows.
        if seed_hit is not None:
            best_score, best, how_kind = seed_hit
            kids = [v for k, v in passing.items() if self._parent.get(k) == best.key]
            if kids and max(kids, key=lambda t: t[0])[0] > best_score:
                best_score, best, how_kind = max(kids, key=lambda t: t[0])
        else:
            best_score, best, how_kind = max(passing.values(), key=lambda t: t[0])
        if is_running(self, best.key, published):
            return in_story(self, best.key, best_score, feats, topics, published, outlet, "joins")
        if new_watched(best.key):
            # A watched topic is new only if no similar development in the window has it: a
            # roundup line on a story already followed elsewhere is not a new fact, and once a
            # seed's story has moved on (summit expected -> summit held) the later reports join
            # the development that moved on, not the seed, nor a new one each.
            covered = [v for k, v in passing.items() if not new_watched(k)]
            if covered:
                best_score, best, how_kind = max(covered, key=lambda t: t[0])
        ref = self._refs[best.key]
        fresh = new_watched(best.key)
        if how_kind == "seed":
            how = f"seed {ref.seed_ref} headline/lead"
        elif how_kind == "profile":
            how = f"reports pooled (nearest {best.published:%Y-%m-%d})"
        else:
            how = f"report of {best.published:%Y-%m-%d}"
        if fresh:
            return Assignment(
                key=None,
                score=round(best_score, 3),
                reason=f"new development: resembles {best.key!r} ({ref.title[:80]!r}, score "
                f"{best_score:.2f}) but adds watched topic(s) {', '.join(sorted(fresh))}",
                new_topics=fresh,
                related=best.key,
            )
        return Assignment(
            key=best.key,
            score=round(best_score, 3),
            reason=f"same development as {best.key!r} ({ref.title[:80]!r}): score "
            f"{best_score:.2f} against its {how}; shared: {self._explain(feats, best.feats)}",
            new_topics=frozenset(topics - ref.topics),
        )

    def split_off(
        self,
        key: str,
        *,
        parent: str,
        refs: Iterable[str],
        title: str,
        topics: frozenset[str],
        published: datetime,
    ) -> None:
        """Register development `key`, a new fact of running story `parent`, and move the
        reports `refs` (article ids) that first reported it from the story to it."""
        self._register(key, title, topics, published, "new", None, frozenset(), parent)
        move_members(self, set(refs), key)

    def _register(
        self,
        key: str,
        title: str,
        topics: frozenset[str],
        published: datetime,
        status: Status,
        seed_ref: str | None,
        headline_topics: frozenset[str],
        parent: str | None,
    ) -> None:
        if key in self._refs:
            raise ValueError(f"development {key!r} is already registered")
        self._refs[key] = DevelopmentRef(key=key, title=title, topics=frozenset(topics),
                                         first_seen=published, last_seen=published, status=status,
                                         seed_ref=seed_ref,
                                         headline_topics=frozenset(headline_topics))  # fmt: skip
        if parent is not None:
            self._parent[key] = parent
