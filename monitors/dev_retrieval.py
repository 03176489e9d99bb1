"""Candidate retrieval for development assignment: postings of an article's rare features."""

from __future__ import annotations

import bisect
from datetime import datetime
from typing import TYPE_CHECKING

from monitors.dev_records import (
    MAX_DF_SHARE,
    MAX_POSTINGS_SCAN,
    MAX_QUERY_FEATURES,
    MIN_DF_CAP,
    STORY_THRESHOLD,
    TOPIC_BONUS,
    USE_PROFILE,
    _Member,
)

if TYPE_CHECKING:
    from monitors.developments import DevelopmentIndex


def candidates(
    index: DevelopmentIndex, feats: set[str], published: datetime, qnorm: float
) -> dict[int, float]:
    """Dot products (sum of shared idf^2) with members in the long window sharing rare
    features, minus those that cannot reach their bar (see below)."""
    cap = max(MIN_DF_CAP, int(MAX_DF_SHARE * len(index._members)))
    usable = sorted(
        (f for f in feats if 0 < index._df.get(f, 0) <= cap), key=lambda f: index._df[f]
    )
    span = index.long_window.total_seconds()
    lo, hi = published.timestamp() - span, published.timestamp() + span
    acc: dict[int, float] = {}
    members = index._members
    member_ts = index._member_ts
    ordered = index._in_time_order
    for f in usable[:MAX_QUERY_FEATURES]:
        postings = index._postings.get(f)
        if not postings:
            continue
        w2 = index._idf(f) ** 2
        if ordered:
            # postings are in time order: the members of the window are one slice of the
            # newest MAX_POSTINGS_SCAN up to `hi`, found by two bisections; newest first, as
            # they enter `acc` (0.0 + w2 is w2: the sums are those of the scan below)
            ts_of = member_ts.__getitem__
            end = bisect.bisect_right(postings, hi, key=ts_of)
            start = max(0, end - MAX_POSTINGS_SCAN)
            start = bisect.bisect_left(postings, lo, lo=start, hi=end, key=ts_of)
            get = acc.get
            for mid in reversed(postings[start:end]):
                acc[mid] = get(mid, 0.0) + w2
            continue
        for mid in reversed(postings[-MAX_POSTINGS_SCAN:]):
            if mid in acc:
                acc[mid] += w2
                continue
            ts = member_ts[mid]
            if lo <= ts <= hi:
                acc[mid] = w2
    if not acc:
        return acc
    # Common features (above the cap) still count toward the candidates' scores. Drop first
    # the members that cannot reach their bar even if they had every common feature
    # (an exact bound; the long window brings many weak ones), unless their development
    # has a pooled profile to score.
    weights = [(f, index._idf(f) ** 2) for f in feats if index._df.get(f, 0) > cap]
    most = sum(w for _, w in weights)
    near_bar = (index.threshold - TOPIC_BONUS) * qnorm
    far_bar = (index.long_threshold - TOPIC_BONUS) * qnorm
    profiles = index._profiles if USE_PROFILE else {}
    out: dict[int, float] = {}
    now_ts, window_s = published.timestamp(), index.window.total_seconds()
    for mid, dot in acc.items():
        m = members[mid]
        bar = near_bar if abs(now_ts - member_ts[mid]) <= window_s else far_bar
        if dot + most < bar * m.norm:
            prof = profiles.get(m.key)
            if prof is None or prof.n < 2:
                continue
        if weights:
            mf = m.feats
            dot += sum(w for f, w in weights if f in mf)
        out[mid] = dot
    return out


def score_candidates(
    index: DevelopmentIndex,
    feats: set[str],
    topics: frozenset[str],
    published: datetime,
    qnorm: float,
) -> tuple[dict[str, tuple[float, _Member, str]], dict[str, float], float]:
    """Score the candidate developments of an article.

    Returns the developments that pass their bar (key -> (score, member scored against,
    how)), every scored development's best score (for running stories' lower bar), and the
    best score of all. Each candidate member is scored (single link), and so is each
    candidate development's pooled profile, against its member closest in time.
    """
    passing: dict[str, tuple[float, _Member, str]] = {}
    loose: dict[str, float] = {}
    top = 0.0

    def consider(m: _Member, score: float, need: float, how: str) -> None:
        nonlocal top
        top = max(top, score)
        loose[m.key] = max(score, loose.get(m.key, 0.0))
        if score >= need and score > passing.get(m.key, (0.0,))[0]:
            passing[m.key] = (score, m, how)

    near: dict[str, _Member] = {}
    floor = min(index.threshold, index.long_threshold, STORY_THRESHOLD) - TOPIC_BONUS
    profiles = index._profiles if USE_PROFILE else {}
    for mid, dot in candidates(index, feats, published, qnorm).items():
        m = index._members[mid]
        prof = profiles.get(m.key)
        if prof is not None and prof.n >= 2:
            prev = near.get(m.key)
            if prev is None or abs(published - m.published) < abs(published - prev.published):
                near[m.key] = m
        score = dot / (qnorm * m.norm)
        top = max(top, score)
        if score < floor:
            continue  # cannot pass even with the topic bonus (most candidates)
        if topics & index._refs[m.key].topics:
            score += TOPIC_BONUS
        dt = abs(published - m.published)
        consider(m, score, index.threshold if dt <= index.window else index.long_threshold, "")
    for key, m in near.items():
        score = index._profile_score(key, feats, qnorm)
        if not score:
            continue
        if topics & index._refs[key].topics:
            score += TOPIC_BONUS
        dt = abs(published - m.published)
        need = index.threshold if dt <= index.window else index.long_threshold
        consider(m, score, need, "profile")
    return passing, loose, top
