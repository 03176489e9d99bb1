"""Running stories: follow-ups join them, a new fact needs a second outlet to split off.

When many outlets cover one story at once (a crash, a summit), each also publishes follow-ups,
analysis, features and new angles in words the story's first reports did not use. Judged one
article at a time, each of those looks new; most are not a new development. In a running
story (HOT_REPORTS reports from HOT_OUTLETS outlets within HOT_SPAN) an article therefore joins
the story even at the lower STORY_THRESHOLD, and a new development splits off only when two
outlets report the same new fact: their words that are new to the story (held by fewer than
NOVEL_SHARE of its reports) overlap. Nothing splits in the story's first news cycle
(FIRST_CYCLE, from when it broke): what emerges then is the story itself. A new fact reported
within hours of another split from the same story, in its words or under a topic the story
hardly has, is that fact (SIBLING_SPAN). A quiet story keeps the one-report rule: there a
single report of something new is news.
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from monitors.dev_records import (
    CORROBORATE_MIN_SHARED,
    CORROBORATE_SPAN,
    CORROBORATE_THRESHOLD,
    FACT_SHARE,
    FIRST_CYCLE,
    HOT_OUTLETS,
    HOT_REPORTS,
    HOT_SPAN,
    MIN_UNCOMMON_DF,
    NEW_SHARE,
    NOVEL_SHARE,
    RARE_TOPIC_SHARE,
    SIBLING_SPAN,
    STORY_THRESHOLD,
    UNCOMMON_SHARE,
    Assignment,
    _Member,
)

if TYPE_CHECKING:
    from monitors.developments import DevelopmentIndex


def recent_members(index: DevelopmentIndex, key: str, published: datetime) -> list[_Member]:
    """Reports of development `key` published within HOT_SPAN of `published`."""
    return [
        m
        for mid in index._by_dev.get(key, ())
        if abs((m := index._members[mid]).published - published) <= HOT_SPAN
    ]


def story_start(index: DevelopmentIndex, key: str, published: datetime) -> datetime:
    """When the coverage of `key` that is still running at `published` broke: the first moment
    it was a running story, in an unbroken run of reports no more than HOT_SPAN apart (a seed's
    from its news date). Reports before that (a profile, the day's other news that joined) are
    not the story breaking."""
    event = index._event_dates.get(key)
    reports = sorted(
        (m.published, m.outlet)
        for mid in index._by_dev.get(key, ())
        if (m := index._members[mid]).published <= published
        and (event is None or m.published >= event)
    )
    first, prev = len(reports), published
    while first and prev - reports[first - 1][0] <= HOT_SPAN:
        first -= 1
        prev = reports[first][0]
    run = reports[first:]
    outlets: Counter[str | None] = Counter()
    lo = 0
    for t, outlet in run:
        outlets[outlet] += 1
        while t - run[lo][0] > HOT_SPAN:
            outlets[run[lo][1]] -= 1
            if not outlets[run[lo][1]]:
                del outlets[run[lo][1]]
            lo += 1
        if sum(outlets.values()) >= HOT_REPORTS and len(outlets) >= HOT_OUTLETS:
            return t
    return run[0][0] if run else published


def is_running(index: DevelopmentIndex, key: str, published: datetime) -> bool:
    """Whether development `key` is a running story at `published` (see module docstring)."""
    recent = recent_members(index, key, published)
    return len(recent) >= HOT_REPORTS and len({m.outlet for m in recent}) >= HOT_OUTLETS


def _new_to_story(
    index: DevelopmentIndex,
    key: str,
    feats: frozenset[str] | set[str],
    *,
    own: frozenset[str] | set[str],
) -> set[str]:
    """The features of `feats` that the story `key` has hardly used: in its seed, or (leaving
    out `own`, a report's own features) in more than NOVEL_SHARE of its reports."""
    prof = index._profiles.get(key)
    seen = index._vocab.get(key, frozenset())
    if prof is None or prof.n == 0:
        return {f for f in feats if f not in seen}
    bar = NOVEL_SHARE * prof.n
    return {f for f in feats if f not in seen and prof.counts.get(f, 0) - (f in own) <= bar}


def _concepts(feats: set[str]) -> int:
    """How many distinct things `feats` name: a name counts once with its words."""
    words = {f for f in feats if not f.startswith("e:")}
    names = [f[2:].split() for f in feats if f.startswith("e:")]
    return len(words) + sum(1 for n in names if not set(n) <= words)


def story_of(index: DevelopmentIndex, key: str) -> list[str]:
    """`key`'s story and the stories it split from, nearest first."""
    out: list[str] = []
    while (key := index._parent.get(key, "")) and key not in out:
        out.append(key)
    return out


def first_story(index: DevelopmentIndex, key: str) -> str:
    """The story `key` was split from first (`key` itself when it split from nothing)."""
    return (story_of(index, key) or [key])[-1]


def _uncommon_cap(index: DevelopmentIndex) -> float:
    """How many reports may hold a feature that still counts as uncommon."""
    return max(MIN_UNCOMMON_DF, UNCOMMON_SHARE * len(index._members))


def fact_of(index: DevelopmentIndex, key: str) -> set[str]:
    """What a development split from a story reports that the story does not: the uncommon
    features most of its reports share and at most NOVEL_SHARE of the story's reports have."""
    parent = index._parent.get(key)
    prof = index._profiles.get(key)
    if parent is None or prof is None or prof.n == 0:
        return set()
    story = index._profiles.get(parent)
    need = max(2, math.ceil(FACT_SHARE * prof.n))
    cap = _uncommon_cap(index)
    return {
        f
        for f, c in prof.counts.items()
        if c >= need
        and index._df.get(f, 0) <= cap
        and (story is None or story.counts.get(f, 0) <= NOVEL_SHARE * story.n)
    }


def route_to_story(
    index: DevelopmentIndex,
    feats: set[str],
    passing: dict[str, tuple[float, _Member, str]],
    loose: dict[str, float],
) -> None:
    """Count an article's match with a new fact split from a story as a match with the story
    when the article does not report that fact: follow-ups of the story stay in the story, so
    a new fact's development does not become a second home for the whole story."""
    for key in [k for k in loose if k in index._parent]:
        target = key
        for up in [key, *story_of(index, key)]:
            target = up
            if up not in index._parent or _concepts(feats & fact_of(index, up)):
                break
        if target == key:
            continue
        score = loose.pop(key)
        loose[target] = max(score, loose.get(target, 0.0))
        if key in passing:
            s, m, how = passing.pop(key)
            if s > passing.get(target, (0.0,))[0]:
                passing[target] = (s, dataclasses.replace(m, key=target), how)


def corroborating(
    index: DevelopmentIndex,
    key: str,
    feats: set[str],
    published: datetime,
    outlet: str | None,
) -> tuple[list[_Member], list[str]]:
    """Reports of `key` from other outlets that share the article's new fact, and the words.

    Two reports share a new fact when what they have in common is mostly new to the story
    (NEW_SHARE of its weight), names at least CORROBORATE_MIN_SHARED new, uncommon things,
    and their new words overlap at CORROBORATE_THRESHOLD (cosine, rarity-weighted). Empty when
    the article brings nothing new to the story or no other outlet reported it.
    """
    cap = _uncommon_cap(index)
    if published - story_start(index, first_story(index, key), published) < FIRST_CYCLE:
        return [], []  # the story's first news cycle: details emerging are the story itself
    mine = {
        f for f in _new_to_story(index, key, feats, own=frozenset()) if index._df.get(f, 0) <= cap
    }
    if _concepts(mine) < CORROBORATE_MIN_SHARED:
        return [], []
    idf2 = {f: index._idf(f) ** 2 for f in feats}
    norm_a = math.sqrt(sum(idf2[f] for f in mine)) or 1.0
    hits: list[_Member] = []
    shared_all: set[str] = set()
    # the story, and every new fact split off any story (its own among them): two stories
    # running at once (a leader's video, then his crash) must not each split the same new fact
    keys = dict.fromkeys([first_story(index, key), *index._parent])
    for mid in (mid for k in keys for mid in index._by_dev.get(k, ())):
        m = index._members[mid]
        if m.ref is None or m.outlet == outlet or abs(m.published - published) > CORROBORATE_SPAN:
            continue
        common = feats & m.feats
        if _concepts(mine & common) < CORROBORATE_MIN_SHARED:
            continue
        theirs = {
            f
            for f in _new_to_story(index, key, m.feats, own=m.feats if m.key == key else set())
            if f in mine or f not in feats
        }
        shared = mine & theirs
        if _concepts(shared) < CORROBORATE_MIN_SHARED:
            continue
        w = sum(idf2[f] for f in shared)
        if w < NEW_SHARE * sum(idf2[f] for f in common):
            continue  # mostly what the story already said
        norm_b = math.sqrt(sum(index._idf(f) ** 2 for f in theirs if index._df.get(f, 0) <= cap))
        if w / (norm_a * (norm_b or 1.0)) >= CORROBORATE_THRESHOLD:
            hits.append(m)
            shared_all |= shared
    rarest = sorted(shared_all, key=lambda f: (-index._idf(f), f))  # ties: a stable order
    return hits, list(dict.fromkeys(f.removeprefix("e:") for f in rarest))[:5]


def move_members(index: DevelopmentIndex, refs: set[str], new_key: str) -> None:
    """Move the reports `refs` to development `new_key` (a new fact split from its story)."""
    for old_key, mids in list(index._by_dev.items()):
        moving = [mid for mid in mids if index._members[mid].ref in refs]
        if not moving:
            continue
        index._by_dev[old_key] = [mid for mid in mids if mid not in moving]
        old = index._profiles[old_key]
        new = index._profiles.setdefault(new_key, type(old)(counts={}))
        for mid in moving:
            m = index._members[mid]
            m.key = new_key
            index._by_dev.setdefault(new_key, []).append(mid)
            for f in m.feats:
                old.counts[f] -= 1
                if not old.counts[f]:
                    del old.counts[f]
                new.counts[f] = new.counts.get(f, 0) + 1
            old.n -= 1
            new.n += 1
        old.norm_at = new.norm_at = -1


def running_story(
    index: DevelopmentIndex, scores: dict[str, float], published: datetime
) -> str | None:
    """The best-scoring running story at STORY_THRESHOLD among `scores`, if any."""
    hot = [
        (score, key)
        for key, score in scores.items()
        if score >= STORY_THRESHOLD and is_running(index, key, published)
    ]
    return max(hot)[1] if hot else None


def rare_topics(index: DevelopmentIndex, key: str, topics: frozenset[str]) -> set[str]:
    """The `topics` that at most RARE_TOPIC_SHARE of story `key`'s reports carry."""
    mids = index._by_dev.get(key, ())
    bar = RARE_TOPIC_SHARE * len(mids)
    return {t for t in topics if sum(t in index._members[m].topics for m in mids) <= bar}


def _recent_sibling(
    index: DevelopmentIndex,
    key: str,
    feats: set[str],
    topics: frozenset[str],
    published: datetime,
) -> str | None:
    """The newest fact split from `key`'s story and still reported within SIBLING_SPAN that the
    article reports too: in two of its words, or under a topic the story itself hardly has."""
    root = first_story(index, key)
    rare = rare_topics(index, root, topics)
    near = [
        (ref.last_seen, k)
        for k in index._parent
        if first_story(index, k) == root
        and timedelta(0) <= published - (ref := index._refs[k]).last_seen <= SIBLING_SPAN
        and (_concepts(feats & fact_of(index, k)) >= CORROBORATE_MIN_SHARED or rare & ref.topics)
    ]
    return max(near)[1] if near else None


def in_story(
    index: DevelopmentIndex,
    key: str,
    score: float,
    feats: set[str],
    topics: frozenset[str],
    published: datetime,
    outlet: str | None,
    how: str,
) -> Assignment:
    """An article in running story `key`: a follow-up, or a corroborated new fact (joining a
    sibling fact moves the other outlets' reports there too: `Assignment.corroborated_by`)."""
    title = index._refs[key].title[:80]
    hits, words = corroborating(index, key, feats, published, outlet)
    known = [m.key for m in hits if m.key != key and m.key in index._parent]
    if known:  # the fact already split off from the story: the article is one more report of it
        fact = max(set(known), key=known.count)
        return Assignment(
            key=fact,
            score=round(score, 3),
            reason=f"{how} running story {key!r} ({title!r}) and reports what "
            f"{fact!r} ({index._refs[fact].title[:80]!r}) split from it with: "
            f"{', '.join(words)}",
            new_topics=frozenset(),
        )
    sibling = _recent_sibling(index, key, feats, topics, published) if hits else None
    if sibling is not None:  # the other outlets' reports of it move there with the article
        moving = [m.ref for m in hits if m.ref is not None and m.key != sibling]
        move_members(index, set(moving), sibling)
        return Assignment(
            key=sibling,
            score=round(score, 3),
            reason=f"{how} running story {key!r} ({title!r}) and reports what {sibling!r} "
            f"({index._refs[sibling].title[:80]!r}) split from it within "
            f"{SIBLING_SPAN.total_seconds() / 3600:.0f} hours",
            new_topics=frozenset(),
            corroborated_by=tuple(moving),
        )
    if hits:
        outlets = sorted({m.outlet or "?" for m in hits})
        return Assignment(
            key=None,
            score=round(score, 3),
            reason=f"new development in running story {key!r} ({title!r}): also reported by "
            f"{', '.join(outlets)} in words new to the story: {', '.join(words)}",
            new_topics=frozenset(),
            related=key,
            corroborated_by=tuple(m.ref for m in hits if m.ref is not None),
        )
    return Assignment(
        key=key,
        score=round(score, 3),
        reason=f"{how} running story {key!r} ({title!r}), score {score:.2f}; no other outlet "
        "reports what it adds",
        new_topics=frozenset(),
    )


def watched_news(
    index: DevelopmentIndex,
    key: str,
    topics: frozenset[str],
    headline_topics: frozenset[str] | None,
    watched: frozenset[str],
) -> frozenset[str]:
    """The watched topics an article adds to development `key` and the story it split from:
    new to their topics, or (with `headline_topics`) new to their headlines. Once the analyst
    was alerted to it (a new development on a watched topic), a watched topic only the
    article's body adds is an angle of it, not a new fact."""
    refs = [index._refs[k] for k in (key, *story_of(index, key))]
    alerted = headline_topics is not None and any(
        r.status == "new" and r.topics & watched for r in refs
    )
    new = set() if alerted else (topics & watched) - {t for r in refs for t in r.topics}
    if headline_topics is not None:
        new |= (headline_topics & watched) - {t for r in refs for t in r.headline_topics}
    return frozenset(new)
