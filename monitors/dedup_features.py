"""What duplicate detection computes once per text: normalized words, hashes, LSH keys."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import numpy as np

from monitors.dedup_settings import DedupSettings
from monitors.minhash import (
    U32,
    U64,
    band_keys,
    chunk_bounds,
    minhash_matrix,
    permutations,
    shingles_of_ids,
    text_word_ids,
)
from monitors.text import normalize_text

#: Title signatures: 8 permutations in 4 bands of 2 rows (collision 0.98 at title Jaccard 0.8).
TITLE_PERM = 8
TITLE_BANDS = 4
_DIGITS = re.compile(r"\d+")


def title_numbers(title_norm: str) -> list[str]:
    """The numbers of a normalized title, in order (matching titles must agree on them)."""
    return _DIGITS.findall(title_norm)


@dataclass(slots=True)
class TextFeatures:
    """What the index computes once per text, for adding or querying."""

    norm: str
    words: list[str]
    exact: bytes | None
    shingles: U32  # sorted unique 3-gram hashes; empty under min_words
    keys: U64  # LSH band keys: whole text first, then its chunks (`lsh_bands` per signature)
    title_norm: str
    title_numbers: list[str]
    title_keys: U64 | None
    #: filled on first use (`monitors.seed_scan`): the text's word 2-grams, and per seed doc
    #: the count of this text's 2-grams and shingles found in it, and the 2-gram share (0-100)
    bigrams: U32 | None = None
    seed_bigrams: dict[int, int] | None = None
    seed_shingles: dict[int, int] | None = None
    seed_shares: dict[int, float] | None = None

    @property
    def text_hash(self) -> str:
        """SHA-256 (hex) of the normalized text: `monitors.text.text_hash` without renormalizing."""
        return hashlib.sha256(self.norm.encode("utf-8")).hexdigest()


class Featurizer:
    """Computes `TextFeatures` under one `DedupSettings` (its MinHash permutations fixed)."""

    def __init__(self, settings: DedupSettings) -> None:
        """Draw the text and title MinHash permutations from `settings.seed`."""
        self.settings = settings
        self._perms = permutations(settings.num_perm, settings.seed)
        self._title_perms = permutations(TITLE_PERM, settings.seed + 1)

    def features(self, text: str, title: str) -> TextFeatures:
        """Normalized words, exact hash, shingles, LSH keys and title keys of one text."""
        s = self.settings
        norm = normalize_text(text)
        words = norm.split()
        uniq = np.zeros(0, dtype=np.uint32)  # short texts are matched by title: no shingles
        keys = np.zeros(0, dtype=np.uint64)
        if len(words) >= s.min_words:
            cap = self.shingle_cap(norm)
            # Shingles past the kept prefix and the last possible chunk are never used.
            limit = max(cap, s.max_chunks * s.chunk_max_shingles) + s.shingle_words - 1
            sh = shingles_of_ids(text_word_ids(norm)[:limit], s.shingle_words)
            n_cap = min(cap, len(sh))
            uniq = np.unique(sh[:n_cap])
            bounds = chunk_bounds(
                sh,
                divisor=s.chunk_divisor,
                min_len=s.chunk_min_shingles,
                max_len=s.chunk_max_shingles,
                max_chunks=s.max_chunks,
            )
            end = bounds[-1][1]
            h = minhash_matrix(sh[: max(n_cap, end)], self._perms)
            sigs = np.empty((s.num_perm, len(bounds) + 1), dtype=np.uint64)
            sigs[:, 0] = h[:, :n_cap].min(axis=1)  # whole text
            sigs[:, 1:] = np.minimum.reduceat(h[:, :end], [a for a, _ in bounds], axis=1)
            keys = band_keys(sigs, s.lsh_bands)
        title_norm = normalize_text(title)
        title_words = title_norm.split()
        title_keys = None
        if len(title_words) >= s.title_min_words:
            th = minhash_matrix(shingles_of_ids(text_word_ids(title_norm), 1), self._title_perms)
            title_keys = band_keys(th.min(axis=1, keepdims=True), TITLE_BANDS)
        exact = None
        if len(words) >= s.min_words:
            exact = hashlib.sha256(norm.encode("utf-8")).digest()
        elif len(words) >= s.exact_min_words and len(title_words) >= s.title_min_words:
            # A short text repeats under unrelated items (weekly quizzes, recaps): only the
            # same title *and* the same text is exact.
            exact = hashlib.sha256(f"{title_norm}\x1f{norm}".encode()).digest()
        return TextFeatures(
            norm=norm,
            words=words,
            exact=exact,
            shingles=uniq,
            keys=keys,
            title_norm=title_norm,
            title_numbers=title_numbers(title_norm),
            title_keys=title_keys,
        )

    def shingle_cap(self, norm: str) -> int:
        """Shingles covering the kept text prefix (roughly one per word)."""
        cap = self.settings.max_text_chars
        return len(norm) if len(norm) <= cap else norm.count(" ", 0, cap) + 1
