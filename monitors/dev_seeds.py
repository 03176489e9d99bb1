"""Seed developments: which articles report what a seed already says."""

from __future__ import annotations

import math
from datetime import datetime
from typing import TYPE_CHECKING

from monitors.dev_records import SEED_COVERS_AFTER, SEED_COVERS_BEFORE, _Member

if TYPE_CHECKING:
    from monitors.developments import DevelopmentIndex


def _full_text_score(index: DevelopmentIndex, key: str, feats: set[str], qnorm: float) -> float:
    """Cosine of an article with everything its seed says (the seed's whole text)."""
    vocab = index._vocab.get(key)
    if not vocab:
        return 0.0
    shared = feats & vocab
    if not shared:
        return 0.0
    # the norm of a long text is computed once and refreshed only when the IDF has moved
    # (as member norms are), not for every article
    cached = index._vocab_norm.get(key)
    if cached is None or index._stale(cached[1]):
        cached = index._vocab_norm[key] = (index._norm(vocab), len(index._members))
    # the seed's whole text is long: score against its square root of size, as for a lead
    lead_norm = math.sqrt(cached[0] * qnorm)
    return sum(index._idf(f) ** 2 for f in shared) / (qnorm * lead_norm)


def seed_match(
    index: DevelopmentIndex,
    feats: set[str],
    topics: frozenset[str],
    published: datetime,
    qnorm: float,
) -> tuple[float, _Member, str] | None:
    """The seed development an article reports, with its score, or None.

    A seed whose news date is known covers the days of its news (SEED_COVERS_AFTER) on what it
    says in its whole text, and the run-up (SEED_COVERS_BEFORE) only when its headline and lead
    say the same at the long bar. A seed with no date must share a rare name (not "South Korea"
    or "Japan") with the article. Either way the article must share one of the seed's topics.
    """
    best: tuple[float, _Member, str] | None = None
    for m in index._seed_members:
        ev = m.event_date
        if ev is not None and not (ev - SEED_COVERS_BEFORE <= published <= ev + SEED_COVERS_AFTER):
            continue  # a seed's news covers its own days (and the run-up), not other years
        shared = feats & m.feats
        ref = index._refs[m.key]
        if ref.topics and not topics & ref.topics:
            continue  # a seed covers its own angle of the story, not an unrelated one
        lead = sum(index._idf(f) ** 2 for f in shared) / (qnorm * index._fresh_norm(m))
        if ev is None or published < ev:
            if not shared or not index._names_rare_entity(shared):
                continue  # generic overlap ("South Korea", "cooperation") is no match
            score, need = lead, index.seed_threshold
        else:
            score = max(lead, _full_text_score(index, m.key, feats, qnorm))
            need = index.seed_threshold
        if score >= need and (best is None or score > best[0]):
            best = (score, m, "seed")
    return best
