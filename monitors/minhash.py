"""Shingles, content-defined chunks, MinHash signatures and LSH band keys, in numpy.

The building blocks of `monitors.dedup`: a text becomes word ids (crc32), word k-gram hashes
(shingles), content-defined chunks of shingles (boundaries depend on the words, not on
positions), one MinHash signature per chunk and `bands` 64-bit LSH keys per signature. Also the
exact set comparisons that verify candidates (containment, overlaps, aligned ratio).
"""

from __future__ import annotations

import zlib

import numpy as np
import numpy.typing as npt
from rapidfuzz import fuzz

U32 = npt.NDArray[np.uint32]
U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]

_MIX = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit constant (golden ratio) for combining words
#: Per-band salt of the band keys (settings allow at most 256 bands).
_BAND_SALT = (np.arange(1, 257, dtype=np.uint64) * np.uint64(0xD6E8FEB86659FD93)).astype(np.uint64)
#: Random odd multipliers of the rows of a band (settings allow at most 512 permutations).
_ROW_WEIGHTS = np.random.default_rng(0xBA4D).integers(
    0, 2**64, size=512, dtype=np.uint64, endpoint=False
) | np.uint64(1)


def text_word_ids(norm: str) -> npt.NDArray[np.uint64]:
    """Stable 32-bit ids (crc32 of the UTF-8 bytes) of the words of a normalized text.

    One `map` of the C crc32 over the split bytes: ~15 us for 60 words, 5x faster than
    encoding word by word and much faster than numpy for the short texts that dominate
    (titles, one-line standfirsts). Identical across processes (no salted `hash()`).
    """
    if not norm:
        return np.zeros(0, dtype=np.uint64)
    return np.fromiter(map(zlib.crc32, norm.encode("utf-8").split(b" ")), dtype=np.uint64)


def shingle_hashes(words: list[str], k: int) -> U32:
    """32-bit hashes of the word k-grams of `words`, in text order (one per start position).

    A text shorter than k words gives one shingle of all its words (none when empty).
    """
    return shingles_of_ids(text_word_ids(" ".join(words)), k)


def shingles_of_ids(ids: npt.NDArray[np.uint64], k: int) -> U32:
    """k-gram hashes of a sequence of word ids (see `shingle_hashes`)."""
    if not len(ids):
        return np.zeros(0, dtype=np.uint32)
    n = max(len(ids) - k + 1, 1)
    h = np.zeros(n, dtype=np.uint64)
    for j in range(min(k, len(ids))):
        h = h * _MIX + ids[j : j + n]
    h ^= h >> np.uint64(29)
    h *= _MIX
    h ^= h >> np.uint64(32)
    return (h & np.uint64(0xFFFFFFFF)).astype(np.uint32)


def chunk_bounds(
    shingles: U32, *, divisor: int, min_len: int, max_len: int, max_chunks: int
) -> list[tuple[int, int]]:
    """Content-defined chunks of a shingle sequence, as (start, end) index pairs.

    A chunk ends after a shingle whose hash is 0 mod `divisor` once it holds `min_len`
    shingles, or at `max_len`. A tail shorter than `min_len // 2` joins the previous chunk.
    """
    n = len(shingles)
    if n == 0:
        return []
    anchors = np.flatnonzero(shingles % np.uint32(divisor) == 0).tolist()
    n_anchors = len(anchors)
    bounds: list[tuple[int, int]] = []
    start = 0
    ai = 0
    while start < n and len(bounds) < max_chunks:
        lo, hi = start + min_len - 1, start + max_len - 1
        while ai < n_anchors and anchors[ai] < lo:
            ai += 1
        end = anchors[ai] + 1 if ai < n_anchors and anchors[ai] <= hi else hi + 1
        end = min(end, n)
        bounds.append((start, end))
        start = end
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] < min_len // 2:
        last = bounds.pop()
        bounds[-1] = (bounds[-1][0], last[1])
    return bounds


def permutations(num_perm: int, seed: int) -> tuple[U64, U64]:
    """Multipliers (odd) and offsets of `num_perm` multiply-add-shift hash functions."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 2**64, size=num_perm, dtype=np.uint64, endpoint=False) | np.uint64(1)
    b = rng.integers(0, 2**64, size=num_perm, dtype=np.uint64, endpoint=False)
    return a, b


def minhash_matrix(values: U32, perms: tuple[U64, U64]) -> U64:
    """Hashes (num_perm x len(values)) of `values` under each permutation
    `(a * x + b) mod 2**64 >> 32` (multiply-add-shift, universal). The MinHash signature of
    any slice is the column minimum of that slice, so all chunks of a text take one pass."""
    a, b = perms
    x = values.astype(np.uint64)
    return (a[:, None] * x[None, :] + b[:, None]) >> np.uint64(32)


def band_keys(sigs: U64, bands: int) -> U64:
    """LSH band keys of signatures (num_perm x m): 64-bit hashes of each band's rows, salted
    by band, ordered signature by signature (`bands` keys each).

    A band's key is the sum of its rows times random odd multipliers plus the band's salt,
    then mixed: two different bands of rows collide with probability ~2**-64."""
    num_perm, m = sigs.shape
    rows = num_perm // bands
    k = (sigs.T.reshape(m, bands, rows) * _ROW_WEIGHTS[:rows]).sum(axis=2, dtype=np.uint64)
    k += _BAND_SALT[:bands]
    k ^= k >> np.uint64(31)
    k *= _MIX
    k ^= k >> np.uint64(29)
    return k.ravel()


def containment(a: U32, b: U32) -> tuple[float, float]:
    """(share 0-100 of the smaller set found in the other, Jaccard 0-1) of two sorted sets."""
    inter = len(np.intersect1d(a, b, assume_unique=True))
    smaller = max(min(len(a), len(b)), 1)
    union = max(len(a) + len(b) - inter, 1)
    return 100.0 * inter / smaller, inter / union


def overlaps(query: U32, stored: list[U32]) -> npt.NDArray[np.int64]:
    """Size of the intersection of the sorted set `query` with each sorted set in `stored`,
    in one vectorized pass (`searchsorted` of all stored shingles into the query)."""
    if not stored or len(query) == 0:
        return np.zeros(len(stored), dtype=np.int64)
    lens = np.fromiter((len(x) for x in stored), np.int64, len(stored))
    flat = np.concatenate(stored)
    pos = np.minimum(np.searchsorted(query, flat), len(query) - 1)
    hit = (query[pos] == flat).astype(np.int64)
    csum = np.concatenate([[0], np.cumsum(hit)])
    ends = np.cumsum(lens)
    return csum[ends] - csum[ends - lens]


def aligned_ratio(short: list[str], long: list[str], k: int = 3) -> float:
    """`fuzz.ratio` of the shorter word list against the window of the longer that shares
    its k-grams (the middle 90% of their positions), i.e. a cheap partial ratio."""
    if len(short) > len(long):
        short, long = long, short
    pos = np.flatnonzero(np.isin(shingle_hashes(long, k), shingle_hashes(short, k)))
    if len(pos) == 0:
        return 0.0
    lo, hi = (int(x) for x in np.percentile(pos, [5, 95]))
    mid = (lo + hi) // 2
    half = max(len(short), hi - lo) // 2 + len(short) // 10
    window = long[max(0, mid - half) : mid + half + 1]
    return float(fuzz.ratio(" ".join(short), " ".join(window)))
