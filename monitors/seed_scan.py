"""Seeds compared with a text all at once: every seed's shingles and word 2-grams in two
sorted tables, so a text's overlap with each seed is one `searchsorted`, not one set
intersection per seed (the per-article cost no longer grows with the seed count)."""

from __future__ import annotations

import numpy as np

from monitors.dedup_features import TextFeatures
from monitors.dedup_settings import DedupSettings
from monitors.minhash import U32, shingle_hashes


def owner_table(sets: list[tuple[int, U32]]) -> tuple[U32, U32]:
    """(values, owner) of several sorted sets, merged and sorted by value."""
    if not sets:
        return np.zeros(0, np.uint32), np.zeros(0, np.uint32)
    flat = np.concatenate([v for _, v in sets])
    owners = np.repeat(
        np.fromiter((d for d, _ in sets), np.uint32, len(sets)), [len(v) for _, v in sets]
    )
    order = np.argsort(flat, kind="stable")
    return flat[order], owners[order].astype(np.uint32)


def owner_counts(table: tuple[U32, U32], query: U32) -> dict[int, int]:
    """Owner -> how many values of the sorted set `query` the owner's set holds."""
    flat, owners = table
    lo = np.searchsorted(flat, query, side="left")
    hi = np.searchsorted(flat, query, side="right")
    counts = hi - lo
    idx = np.repeat(lo - (np.cumsum(counts) - counts), counts) + np.arange(int(counts.sum()))
    who, n = np.unique(owners[idx], return_counts=True)
    return dict(zip(who.tolist(), n.tolist(), strict=True))


def bigrams_of(f: TextFeatures) -> U32:
    """The sorted unique word 2-gram hashes of a text (computed once per text)."""
    if f.bigrams is None:
        f.bigrams = np.unique(shingle_hashes(f.words, 2))
    return f.bigrams


class SeedScan:
    """The seeds' shingle and 2-gram tables, keyed by the index's doc ids."""

    def __init__(self, seeds: list[tuple[int, U32, list[str]]], settings: DedupSettings) -> None:
        """Build the tables from (doc id, sorted shingles, normalized words) of each seed."""
        self.settings = settings
        self.bigrams = {d: np.unique(shingle_hashes(words, 2)) for d, _, words in seeds}
        self._shingles = owner_table([(d, sh) for d, sh, _ in seeds])
        self._bigrams = owner_table(list(self.bigrams.items()))

    def shingle_counts(self, f: TextFeatures) -> dict[int, int]:
        """Seed doc id -> shingles of the text found in the seed (seeds sharing one)."""
        if f.seed_shingles is None:
            f.seed_shingles = owner_counts(self._shingles, f.shingles)
        return f.seed_shingles

    def shares(self, f: TextFeatures) -> dict[int, float]:
        """Seed doc id -> share (0-100) of the smaller 2-gram set found in the other."""
        if f.seed_shares is None:
            mine = bigrams_of(f)
            if f.seed_bigrams is None:
                f.seed_bigrams = owner_counts(self._bigrams, mine)
            f.seed_shares = {
                d: 100.0 * n / max(min(len(mine), len(self.bigrams[d])), 1)
                for d, n in f.seed_bigrams.items()
            }
        return f.seed_shares

    def may_pass(
        self, f: TextFeatures, doc_id: int, n_words: int, contain: float, jac: float
    ) -> bool:
        """Whether a seed can pass `DedupIndex._verify`: the cheap bound of each of its tests
        (near needs the Jaccard prefilter; containment and spin need both texts long)."""
        s = self.settings
        if jac >= s.prefilter_jaccard:
            return True
        if min(len(f.words), n_words) < s.min_words:
            return False
        if contain >= s.containment_min_score:
            return True
        return self.shares(f).get(doc_id, 0.0) >= s.seed_spin_bigram_min
