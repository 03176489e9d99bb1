"""Near-duplicate detection against the seed corpus and stored articles.

Levels, cheapest first (URL and GUID exactness is the storage layer's job):

1. **exact** - SHA-256 of the normalized text (`monitors.text.text_hash`).
2. **near** / **containment** - candidates from a MinHash-LSH index over *content-defined
   chunks* of word 3-gram shingles (chunk boundaries depend on the words, not on positions,
   so an added intro, a cut tail or moved paragraphs leave most chunks intact and an excerpt
   shares whole chunks with its source). Candidates are ranked by how many query chunks
   collide, then by exact shingle overlap, and only the best few are verified: *near* by
   `rapidfuzz.fuzz.ratio` on the normalized texts, *containment* by the share of the shorter
   text's shingles found in the longer one.
3. **title** - when either side is short (a one-line feed summary), fuzzy title agreement
   (`token_sort_ratio`) over candidates from a second, small MinHash-LSH index of title words.

Seeds win over articles: a text that duplicates a seed must never alert.

The MinHash signatures are computed with numpy (one matrix product-like pass per text for all
its chunks) and the LSH buckets live in `_BandStore`: sorted numpy arrays of (band key, doc)
plus a small dict of recent inserts, 12 bytes per band entry (docs/dedup.md has the numbers).
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, model_validator
from rapidfuzz import fuzz

from monitors.dedup_records import DedupRecord, band_probes, split_probes
from monitors.records import DedupMatch, MatchKind, MatchLevel
from monitors.text import normalize_text

U32 = npt.NDArray[np.uint32]
U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]

# --- Defaults, each with the reason for its value (measured in docs/dedup.md) ----------------

#: Word n-gram size of shingles. 3 keeps stock two-word phrases ("the dprk", "kim jong")
#: from making unrelated KCNA texts look alike, while one swapped synonym only breaks 3.
SHINGLE_WORDS = 3
#: MinHash permutations per chunk signature; LSH only needs a rough Jaccard because
#: candidates are verified exactly afterwards. Signatures are not stored, only band keys.
NUM_PERM = 48
#: LSH bands (rows = NUM_PERM // bands = 4). Collision probability 1-(1-J^4)^12: 0.998 at
#: chunk Jaccard 0.8, 0.79 at 0.6, 0.09 at 0.3. Misses are LSH lottery on short texts with
#: few chunks: eval recall over MinHash seeds 1-3 was 0.990-0.996 with 32/8, 0.995-0.998
#: with 40/10 and 0.997-0.999 with 48/12 (12 bytes a band entry, so 144 bytes a chunk).
LSH_BANDS = 12
#: Content-defined chunking: a chunk ends at a shingle whose hash is 0 mod this divisor ...
CHUNK_DIVISOR = 32
#: ... but not before this many shingles (a chunk shorter than a paragraph is too noisy) ...
CHUNK_MIN_SHINGLES = 24
#: ... and at the latest after this many (bounds the chunk count variance).
CHUNK_MAX_SHINGLES = 128
#: Chunks indexed (and queried) per text: ~3,000 words, longer than nearly every news article;
#: caps index memory and query time for very long pages.
MAX_CHUNKS = 48
#: Texts with fewer words are "short": text-level matching is unreliable for them (two
#: one-line standfirsts share half their words by topic alone), so titles decide instead.
MIN_WORDS = 50
#: Exact-hash matching needs this many words: one-liners such as "Continue reading..." or
#: "Photograph: Reuters" recur verbatim under unrelated items.
EXACT_MIN_WORDS = 8
#: `fuzz.ratio` on normalized text at or above this is a near duplicate: typo'd, spun and
#: re-introduced full copies score >= 93 in the eval set; different write-ups of one event
#: score <= 50 and same-outlet KCNA template pairs <= 74 (docs/dedup.md).
NEAR_MIN_SCORE = 85.0
#: Share (0-100) of the shorter text's 3-gram shingles found in the longer text: excerpts,
#: truncations, reordered and boilerplate-wrapped copies score >= 82, spun excerpts >= 71;
#: KCNA pairs sharing stock paragraphs reach 66 (97th percentile 47).
CONTAINMENT_MIN_SCORE = 70.0
#: Seeds only (few, curated; a duplicate of a seed must never alert): a heavily spun seed
#: (seed 003 swaps a synonym every few words) keeps only ~45% of 3-grams of its original, so
#: for seeds a text also matches when >= this share of its word 2-grams is in the seed ...
SEED_SPIN_BIGRAM_MIN = 55.0
#: ... and `fuzz.ratio` against the aligned window of the seed is >= this (the unspun part of
#: seed 003 scores 72.5; the Guardian's own Lavrov-visit reports score below 57).
SEED_SPIN_ALIGNED_MIN = 70.0
#: Seeds are scanned one by one (not only through LSH) while there are at most this many.
SEED_SCAN_LIMIT = 2000
#: Titles (normalized) must agree this much by `token_sort_ratio`; edits of one word in a
#: ten-word headline score ~90, different stories about the same event rarely exceed 75.
TITLE_MIN_SCORE = 90.0
#: Titles with fewer words are too generic ("Live updates", "Quick crossword") to match on.
TITLE_MIN_WORDS = 4
#: When both sides are short texts, their texts must also agree this much (`token_sort_ratio`):
#: a recurring headline ("Corrections and clarifications") over different summaries is new.
SHORT_TEXT_MIN_SCORE = 60.0
#: LSH candidates kept for exact shingle overlap (cheap numpy), ranked by colliding chunks.
MAX_PREFILTER = 64
#: Candidates verified by rapidfuzz (~1 ms each on article-length text).
MAX_VERIFY = 4
#: Candidates with shingle Jaccard below this cannot reach NEAR_MIN_SCORE (a 25% spun copy
#: keeps Jaccard ~0.3), so rapidfuzz is skipped for them.
PREFILTER_JACCARD = 0.12
#: Normalized text kept per article for verification: a prefix of ~6,000 words.
MAX_TEXT_CHARS = 40_000
#: Docs taken from one text LSH bucket (the newest). A bucket this full is a stock paragraph
#: (boilerplate, KCNA formulas) or one text stored many times; its older members add query
#: time that grows with the store but no duplicates the ranking would keep (docs/dedup.md).
LSH_BUCKET_CAP = 32
#: Same for title buckets: recurring headlines ("Russia-Ukraine war: list of key events, day
#: N", "Quick crossword No 16,512") fill buckets with hundreds of series entries.
TITLE_BUCKET_CAP = 64
#: Title candidates verified by `token_sort_ratio` (~1 us each), best band agreement first,
#: after the exact filters (equal title numbers, length bound) have dropped hopeless ones.
MAX_TITLE_VERIFY = 16


class DedupSettings(BaseModel):
    """Thresholds of duplicate detection; `dedup:` in a monitor file."""

    model_config = ConfigDict(extra="forbid")

    shingle_words: int = Field(SHINGLE_WORDS, ge=1, le=8, description="word n-gram size")
    num_perm: int = Field(NUM_PERM, ge=4, le=512, description="MinHash permutations per chunk")
    lsh_bands: int = Field(LSH_BANDS, ge=2, le=256, description="LSH bands (divides num_perm)")
    chunk_divisor: int = Field(CHUNK_DIVISOR, ge=2, description="content-defined chunk anchor")
    chunk_min_shingles: int = Field(CHUNK_MIN_SHINGLES, ge=1)
    chunk_max_shingles: int = Field(CHUNK_MAX_SHINGLES, ge=2)
    max_chunks: int = Field(MAX_CHUNKS, ge=1, le=4096, description="chunks indexed per text")
    min_words: int = Field(MIN_WORDS, ge=1, description="shorter texts are matched by title")
    exact_min_words: int = Field(EXACT_MIN_WORDS, ge=1)
    near_min_score: float = Field(NEAR_MIN_SCORE, ge=0, le=100)
    containment_min_score: float = Field(CONTAINMENT_MIN_SCORE, ge=0, le=100)
    title_min_score: float = Field(TITLE_MIN_SCORE, ge=0, le=100)
    title_min_words: int = Field(TITLE_MIN_WORDS, ge=1)
    short_text_min_score: float = Field(SHORT_TEXT_MIN_SCORE, ge=0, le=100)
    seed_spin_bigram_min: float = Field(SEED_SPIN_BIGRAM_MIN, ge=0, le=100)
    seed_spin_aligned_min: float = Field(SEED_SPIN_ALIGNED_MIN, ge=0, le=100)
    seed_scan_limit: int = Field(SEED_SCAN_LIMIT, ge=0)
    max_prefilter: int = Field(MAX_PREFILTER, ge=1)
    max_verify: int = Field(MAX_VERIFY, ge=1)
    prefilter_jaccard: float = Field(PREFILTER_JACCARD, ge=0, le=1)
    max_text_chars: int = Field(MAX_TEXT_CHARS, ge=1000, description="normalized prefix kept")
    lsh_bucket_cap: int = Field(LSH_BUCKET_CAP, ge=1, description="newest docs per text bucket")
    title_bucket_cap: int = Field(TITLE_BUCKET_CAP, ge=1, description="per title bucket")
    max_title_verify: int = Field(MAX_TITLE_VERIFY, ge=1)
    seed: int = Field(1, description="MinHash permutation seed")

    @model_validator(mode="after")
    def _consistent(self) -> DedupSettings:
        if self.num_perm % self.lsh_bands:
            raise ValueError(f"num_perm ({self.num_perm}) must be a multiple of lsh_bands")
        if self.num_perm // self.lsh_bands < 1:
            raise ValueError("lsh_bands must not exceed num_perm")
        if self.chunk_max_shingles < self.chunk_min_shingles:
            raise ValueError("chunk_max_shingles must be >= chunk_min_shingles")
        return self


# --- Text features ------------------------------------------------------------------------

_MIX = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit constant (golden ratio) for combining words
_LEVEL_RANK: dict[MatchLevel, int] = {
    "url": 5,
    "guid": 5,
    "exact": 4,
    "near": 3,
    "containment": 2,
    "title": 1,
}
#: Per-band salt of the band keys (settings allow at most 256 bands).
_BAND_SALT = (np.arange(1, 257, dtype=np.uint64) * np.uint64(0xD6E8FEB86659FD93)).astype(np.uint64)
#: Random odd multipliers of the rows of a band (settings allow at most 512 permutations).
_ROW_WEIGHTS = np.random.default_rng(0xBA4D).integers(
    0, 2**64, size=512, dtype=np.uint64, endpoint=False
) | np.uint64(1)
#: Title signatures: 8 permutations in 4 bands of 2 rows (collision 0.98 at title Jaccard 0.8).
_TITLE_PERM = 8
_TITLE_BANDS = 4
#: `_kind` codes of the per-doc numpy columns.
_GONE, _ARTICLE, _SEED = 0, 1, 2


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
    return _shingles_of_ids(text_word_ids(" ".join(words)), k)


def _shingles_of_ids(ids: npt.NDArray[np.uint64], k: int) -> U32:
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


class _BandStore:
    """LSH buckets: band key -> doc ids (12 bytes an entry).

    Entries live in two sorted numpy arrays (keys, docs; equal keys in insertion order, so
    the newest docs of a bucket are last) plus a dict of recent inserts. The dict is merged
    into the arrays (sort the recent part, `np.insert`) when it holds more than
    `max(MERGE_MIN, len/MERGE_SHARE)` entries, so building n entries costs O(n log n) in
    vectorized numpy and a query is two `searchsorted` plus one dict lookup per key. Recent
    inserts are kept as arrays and put into the dict only when a query needs them, so a bulk
    build (the pipeline's rebuild at flow start) never touches the dict.
    Removed docs are dropped lazily: at query time via `alive`, at merge time for good.
    """

    #: Recent entries kept outside the sorted arrays before a merge, at least ...
    MERGE_MIN = 1 << 16
    #: ... or this share of the stored entries (a merge copies the arrays once).
    MERGE_SHARE = 4
    #: A query facing more un-indexed recent entries than this (after a bulk build) merges
    #: them (~30 ms at 1.6M entries, vectorized) instead of putting them into the dict one by
    #: one (~1 us each, 300 ms for a quarter of a 100k-article store).
    INDEX_MAX = 1 << 12

    def __init__(self) -> None:
        self._keys: U64 = np.zeros(0, dtype=np.uint64)
        self._docs: U32 = np.zeros(0, dtype=np.uint32)
        self._pending: list[tuple[U64, int]] = []  # recent inserts: (keys, doc)
        self._recent: dict[int, list[int]] = {}  # the first `_indexed` pending inserts
        self._indexed = 0
        self._n_recent = 0
        self._removed = False

    def __len__(self) -> int:
        return len(self._keys) + self._n_recent

    def nbytes(self) -> int:
        """Bytes held by the sorted arrays (recent inserts not counted: call `merge` first)."""
        return int(self._keys.nbytes + self._docs.nbytes)

    def add(self, keys: U64, doc: int, alive: npt.NDArray[np.uint8]) -> None:
        """Put `doc` into the bucket of each key."""
        self._pending.append((keys, doc))
        self._n_recent += len(keys)
        if self._n_recent > max(self.MERGE_MIN, len(self._keys) // self.MERGE_SHARE):
            self.merge(alive)

    def mark_removed(self) -> None:
        """A doc was removed: the next merge also compacts the sorted arrays."""
        self._removed = True

    def merge(self, alive: npt.NDArray[np.uint8]) -> None:
        """Move the recent entries into the sorted arrays, dropping removed docs."""
        if self._removed:
            keep = alive[self._docs] != _GONE
            self._keys, self._docs = self._keys[keep], self._docs[keep]
            self._removed = False
        if not self._pending:
            return
        keys = np.concatenate([k for k, _ in self._pending])
        counts = np.fromiter((len(k) for k, _ in self._pending), np.intp, len(self._pending))
        docs = np.repeat(
            np.fromiter((d for _, d in self._pending), np.uint32, len(self._pending)), counts
        )
        order = np.argsort(keys, kind="stable")  # docs of one key stay in insertion order
        keys, docs = keys[order], docs[order]
        keep = alive[docs] != _GONE
        keys, docs = keys[keep], docs[keep]
        at = np.searchsorted(self._keys, keys, side="right")
        self._keys = np.insert(self._keys, at, keys)
        self._docs = np.insert(self._docs, at, docs)
        self._pending = []
        self._recent = {}
        self._indexed = 0
        self._n_recent = 0

    def _index_pending(self) -> None:
        """Put the pending inserts not yet in the lookup dict into it."""
        recent = self._recent
        for keys, doc in self._pending[self._indexed :]:
            for k in keys.tolist():
                bucket = recent.get(k)
                if bucket is None:
                    recent[k] = [doc]
                else:
                    bucket.append(doc)
        self._indexed = len(self._pending)

    def query(self, keys: U64, cap: int, alive: npt.NDArray[np.uint8]) -> tuple[I64, U32]:
        """(index into `keys`, doc) of every bucket member, at most the newest `cap` a key.

        Removed docs may be among them (the caller filters with `alive`, which a merge uses).
        """
        unindexed = sum(len(k) for k, _ in self._pending[self._indexed :])
        if unindexed > self.INDEX_MAX:
            self.merge(alive)
        order = np.argsort(keys)  # sorted probes walk the big array in one direction
        probe = keys[order]
        lo = np.searchsorted(self._keys, probe, side="left")
        hi = np.searchsorted(self._keys, probe, side="right")
        lo = np.maximum(lo, hi - cap)
        counts = hi - lo
        total = int(counts.sum())
        qi: I64 = np.repeat(order.astype(np.int64), counts)
        offsets = np.repeat(lo - (np.cumsum(counts) - counts), counts)
        docs: U32 = self._docs[np.arange(total) + offsets]
        if self._indexed < len(self._pending):
            self._index_pending()
        if self._recent:
            extra_q: list[int] = []
            extra_d: list[int] = []
            for i, k in enumerate(keys.tolist()):
                bucket = self._recent.get(k)
                if bucket is not None:
                    newest = bucket[-cap:]
                    extra_q.extend([i] * len(newest))
                    extra_d.extend(newest)
            if extra_d:
                qi = np.concatenate([qi, np.asarray(extra_q, dtype=np.int64)])
                docs = np.concatenate([docs, np.asarray(extra_d, dtype=np.uint32)])
        return qi, docs


@dataclass(slots=True)
class _Features:
    """What the index computes once per text, for adding or querying."""

    norm: str
    words: list[str]
    exact: bytes | None
    shingles: U32  # sorted unique 3-gram hashes; empty under min_words
    keys: U64  # LSH band keys: whole text first, then its chunks (`lsh_bands` per signature)
    title_norm: str
    title_numbers: list[str]
    title_keys: U64 | None
    #: filled on first use: the text's word 2-grams, and per seed doc id the number of this
    #: text's 2-grams and shingles found in the seed
    bigrams: U32 | None = None
    seed_bigrams: dict[int, int] | None = None
    seed_shingles: dict[int, int] | None = None
    seed_shares: dict[int, float] | None = None

    @property
    def text_hash(self) -> str:
        """SHA-256 (hex) of the normalized text: `monitors.text.text_hash` without renormalizing."""
        return hashlib.sha256(self.norm.encode("utf-8")).hexdigest()


#: What `DedupIndex.features` returns: compute once per text, pass to `find`, `add`, `record`.
Features = _Features


@dataclass(slots=True)
class _Doc:
    """One stored text: only what verification needs."""

    key: str
    kind: MatchKind
    title: str
    title_norm: str
    norm: str  # normalized text, capped at max_text_chars
    n_words: int
    shingles: U32
    exact: bytes | None


@dataclass(slots=True)
class _Verdict:
    doc: int
    level: MatchLevel
    score: float
    passed: bool


_DIGITS = re.compile(r"\d+")


def _overlaps(query: U32, stored: list[U32]) -> npt.NDArray[np.int64]:
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


def _owner_table(sets: list[tuple[int, U32]]) -> tuple[U32, U32]:
    """(values, owner) of several sorted sets, merged and sorted by value."""
    if not sets:
        return np.zeros(0, np.uint32), np.zeros(0, np.uint32)
    flat = np.concatenate([v for _, v in sets])
    owners = np.repeat(np.fromiter((d for d, _ in sets), np.uint32, len(sets)),
                       [len(v) for _, v in sets])  # fmt: skip
    order = np.argsort(flat, kind="stable")
    return flat[order], owners[order].astype(np.uint32)


def _owner_counts(table: tuple[U32, U32], query: U32) -> dict[int, int]:
    """Owner -> how many values of the sorted set `query` the owner's set holds."""
    flat, owners = table
    lo = np.searchsorted(flat, query, side="left")
    hi = np.searchsorted(flat, query, side="right")
    counts = hi - lo
    idx = np.repeat(lo - (np.cumsum(counts) - counts), counts) + np.arange(int(counts.sum()))
    who, n = np.unique(owners[idx], return_counts=True)
    return dict(zip(who.tolist(), n.tolist(), strict=True))


def _title_number_key(title_norm: str) -> int:
    """crc32 of the numbers of a normalized title (titles must agree on them to match)."""
    return zlib.crc32(" ".join(_DIGITS.findall(title_norm)).encode())


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


def _top(docs: U32, score: I64, limit: int) -> list[int]:
    """Up to `limit` docs by score, then newest first."""
    order = np.lexsort((-docs.astype(np.int64), -score))[:limit]
    return [int(d) for d in docs[order]]


class DedupIndex:
    """Incremental duplicate index over seeds and stored articles.

    `add` one text at a time; `find` returns the duplicate verdict (or None); `nearest` the
    best candidate even below the thresholds. Memory per article is the normalized text
    (capped), its shingle hashes (4 bytes a word), 12 bytes per LSH band entry (`lsh_bands`
    per chunk signature) and ~14 bytes of numpy columns (measured in docs/dedup.md).
    """

    def __init__(self, settings: DedupSettings | None = None) -> None:
        self.settings = settings or DedupSettings()
        s = self.settings
        self._perms = permutations(s.num_perm, s.seed)
        self._title_perms = permutations(_TITLE_PERM, s.seed + 1)
        self._lsh = _BandStore()
        self._title_lsh = _BandStore()
        self._docs: list[_Doc | None] = []
        self._by_key: dict[tuple[MatchKind, str], int] = {}
        self._by_hash: dict[bytes, list[int]] = {}
        self._seeds: set[int] = set()
        self._seed_bigrams: dict[int, U32] = {}  # doc id -> 2-gram hashes, seeds only
        #: every seed's 2-grams, sorted, and the seed owning each (built when first needed)
        self._seed_table: tuple[tuple[U32, U32], tuple[U32, U32]] | None = None
        #: stored articles whose long text is not loaded yet (`add_stored`)
        self._lazy: set[int] = set()
        #: reads stored articles' texts by key when verification needs them
        self.text_loader: Callable[[list[str]], dict[str, str]] | None = None
        # Per-doc columns for vectorized candidate filtering, grown by doubling.
        self._kind: npt.NDArray[np.uint8] = np.zeros(1024, dtype=np.uint8)
        self._n_words: npt.NDArray[np.int32] = np.zeros(1024, dtype=np.int32)
        self._title_len: npt.NDArray[np.int32] = np.zeros(1024, dtype=np.int32)
        self._title_num: U32 = np.zeros(1024, dtype=np.uint32)

    # -- features --------------------------------------------------------------------------
    def _features(self, text: str, title: str) -> _Features:
        s = self.settings
        norm = normalize_text(text)
        words = norm.split()
        uniq = np.zeros(0, dtype=np.uint32)  # short texts are matched by title: no shingles
        keys = np.zeros(0, dtype=np.uint64)
        if len(words) >= s.min_words:
            cap = self._shingle_cap(norm)
            # Shingles past the kept prefix and the last possible chunk are never used.
            limit = max(cap, s.max_chunks * s.chunk_max_shingles) + s.shingle_words - 1
            sh = _shingles_of_ids(text_word_ids(norm)[:limit], s.shingle_words)
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
            th = minhash_matrix(_shingles_of_ids(text_word_ids(title_norm), 1), self._title_perms)
            title_keys = band_keys(th.min(axis=1, keepdims=True), _TITLE_BANDS)
        exact = None
        if len(words) >= s.min_words:
            exact = hashlib.sha256(norm.encode("utf-8")).digest()
        elif len(words) >= s.exact_min_words and len(title_words) >= s.title_min_words:
            # A short text repeats under unrelated items (weekly quizzes, recaps): only the
            # same title *and* the same text is exact.
            exact = hashlib.sha256(f"{title_norm}\x1f{norm}".encode()).digest()
        return _Features(
            norm=norm,
            words=words,
            exact=exact,
            shingles=uniq,
            keys=keys,
            title_norm=title_norm,
            title_numbers=_DIGITS.findall(title_norm),
            title_keys=title_keys,
        )

    def _shingle_cap(self, norm: str) -> int:
        """Shingles covering the kept text prefix (roughly one per word)."""
        cap = self.settings.max_text_chars
        return len(norm) if len(norm) <= cap else norm.count(" ", 0, cap) + 1

    def features(self, *, text: str, title: str = "") -> Features:
        """The features of a text (normalized text, shingles, band keys, hashes), to compute
        once and pass to `find`, `add` and `record`."""
        return self._features(text, title)

    def record(self, f: Features) -> DedupRecord:
        """What the persisted index stores of a text with these features."""
        s = self.settings
        return DedupRecord(
            n_words=len(f.words),
            title_norm=f.title_norm,
            short_norm=f.norm[: s.max_text_chars] if len(f.words) < s.min_words else None,
            exact=f.exact,
            shingles=f.shingles.astype("<u4").tobytes(),
            bands=band_probes(f.keys, f.title_keys, s.lsh_bands),
        )

    # -- building --------------------------------------------------------------------------
    def add(
        self,
        *,
        key: str,
        kind: MatchKind,
        text: str = "",
        title: str = "",
        features: Features | None = None,
    ) -> None:
        """Index a text under (kind, key); adding a known (kind, key) again replaces it.

        `features` (from `features()` of the same text and title) saves computing them again."""
        f = features if features is not None else self._features(text, title)
        self._insert(
            key=key,
            kind=kind,
            title=title,
            doc=_Doc(
                key=key,
                kind=kind,
                title=title,
                title_norm=f.title_norm,
                norm=f.norm[: self.settings.max_text_chars],
                n_words=len(f.words),
                shingles=f.shingles,
                exact=f.exact,
            ),
            keys=f.keys,
            title_keys=f.title_keys,
        )

    def add_stored(
        self, *, key: str, title: str, record: DedupRecord, bands: list[tuple[int, int]]
    ) -> None:
        """Index a stored article from its persisted record, under only the (band, key) pairs
        a pass probes (`bands`); its long text is read through `text_loader` if verified."""
        text_keys, title_keys = split_probes(bands, self.settings.lsh_bands)
        doc = _Doc(
            key=key,
            kind="article",
            title=title,
            title_norm=record.title_norm,
            norm=record.short_norm or "",
            n_words=record.n_words,
            shingles=np.frombuffer(record.shingles, dtype="<u4").astype(np.uint32),
            exact=record.exact,
        )
        self._insert(key=key, kind="article", title=title, doc=doc, keys=text_keys,
                     title_keys=title_keys)  # fmt: skip
        if record.short_norm is None:
            self._lazy.add(self._by_key[("article", key)])

    def _insert(
        self,
        *,
        key: str,
        kind: MatchKind,
        title: str,
        doc: _Doc,
        keys: U64,
        title_keys: U64 | None,
    ) -> None:
        if (kind, key) in self._by_key:
            self._remove(self._by_key.pop((kind, key)))
        doc_id = len(self._docs)
        if doc_id >= len(self._kind):
            grow = len(self._kind)
            self._kind = np.concatenate([self._kind, np.zeros(grow, dtype=np.uint8)])
            self._n_words = np.concatenate([self._n_words, np.zeros(grow, dtype=np.int32)])
            self._title_len = np.concatenate([self._title_len, np.zeros(grow, dtype=np.int32)])
            self._title_num = np.concatenate([self._title_num, np.zeros(grow, dtype=np.uint32)])
        self._kind[doc_id] = _SEED if kind == "seed" else _ARTICLE
        self._n_words[doc_id] = doc.n_words
        self._title_len[doc_id] = len(doc.title_norm)
        self._title_num[doc_id] = _title_number_key(doc.title_norm)
        if len(keys):
            self._lsh.add(keys, doc_id, self._kind)
        if title_keys is not None and len(title_keys):
            self._title_lsh.add(title_keys, doc_id, self._kind)
        if doc.exact is not None:
            self._by_hash.setdefault(doc.exact, []).append(doc_id)
        if kind == "seed":
            self._seeds.add(doc_id)
            self._seed_table = None
        self._docs.append(doc)
        self._by_key[(kind, key)] = doc_id

    def _remove(self, doc_id: int) -> None:
        doc = self._docs[doc_id]
        if doc is None:
            return
        self._kind[doc_id] = _GONE  # LSH entries are skipped now and dropped at the next merge
        self._lsh.mark_removed()
        self._title_lsh.mark_removed()
        if doc.exact is not None:
            ids = self._by_hash[doc.exact]
            ids.remove(doc_id)
            if not ids:
                del self._by_hash[doc.exact]
        if doc_id in self._seeds:
            self._seeds.discard(doc_id)
            self._seed_table = None
        self._seed_bigrams.pop(doc_id, None)
        self._lazy.discard(doc_id)
        self._docs[doc_id] = None

    def __len__(self) -> int:
        """Number of texts stored (a key re-added counts once)."""
        return len(self._by_key)

    def index_bytes(self) -> int:
        """Bytes of the LSH arrays and per-doc columns (texts and shingles not counted).

        Merges the recent LSH inserts into the arrays first, so the count is exact."""
        self._lsh.merge(self._kind)
        self._title_lsh.merge(self._kind)
        cols = self._kind.nbytes + self._n_words.nbytes
        cols += self._title_len.nbytes + self._title_num.nbytes
        return self._lsh.nbytes() + self._title_lsh.nbytes() + cols

    # -- querying --------------------------------------------------------------------------
    def find(
        self, *, text: str = "", title: str = "", features: Features | None = None
    ) -> DedupMatch | None:
        """The duplicate verdict: the best match at or above the thresholds, else None.

        A seed match beats any article match; then exact > near > containment > title,
        then the higher score. `features` (of the same text and title) saves computing them.
        """
        f = features if features is not None else self._features(text, title)
        verdicts = [v for v in self._verdicts(f, None) if v.passed]
        if not verdicts:
            return None
        best = max(
            verdicts,
            key=lambda v: (self._kind_of(v.doc) == "seed", _LEVEL_RANK[v.level], v.score),
        )
        return self._match(best)

    def nearest(
        self, *, text: str, title: str = "", kind: MatchKind | None = None
    ) -> DedupMatch | None:
        """The best candidate even below the thresholds (for `newsmon explain`), else None.

        The score is the verifier's: 100 for exact, the rapidfuzz or containment score
        otherwise. Only candidates found by the exact hash, the LSH indexes or the seed scan
        are considered.
        """
        verdicts = self._verdicts(self._features(text, title), kind, explain=True)
        if not verdicts:
            return None
        best = max(verdicts, key=lambda v: (v.passed, v.score, _LEVEL_RANK[v.level]))
        return self._match(best)

    def _kind_of(self, doc_id: int) -> MatchKind:
        doc = self._docs[doc_id]
        assert doc is not None
        return doc.kind

    def _match(self, v: _Verdict) -> DedupMatch:
        doc = self._docs[v.doc]
        assert doc is not None
        return DedupMatch(
            kind=doc.kind, ref=doc.key, level=v.level, score=round(v.score, 2), title=doc.title
        )

    def _wanted(self, docs: U32, kind: MatchKind | None) -> npt.NDArray[np.bool_]:
        """Mask of stored (not removed) docs of the wanted kind."""
        codes = self._kind[docs]
        if kind is None:
            return codes != _GONE
        return codes == (_SEED if kind == "seed" else _ARTICLE)

    def _text_candidates(self, f: _Features, kind: MatchKind | None) -> list[int]:
        """Long stored texts whose chunk signatures collide with the query's, most colliding
        query signatures first (then newest), at most `max_prefilter`; plus every seed."""
        s = self.settings
        qi, docs = self._lsh.query(f.keys, s.lsh_bucket_cap, self._kind)
        ok = self._wanted(docs, kind) & (self._n_words[docs] >= s.min_words)
        qi, docs = qi[ok], docs[ok]
        ranked: list[int] = []
        if len(docs):
            # One hit per (query signature, doc), whichever bands and stored chunks collided.
            pairs = np.unique((qi // s.lsh_bands).astype(np.uint64) << np.uint64(32) | docs)
            per_doc = (pairs & np.uint64(0xFFFFFFFF)).astype(np.uint32)
            cand, hits = np.unique(per_doc, return_counts=True)
            ranked = _top(cand, hits.astype(np.int64), s.max_prefilter)
        if len(self._seeds) <= s.seed_scan_limit:
            seeds = np.fromiter(sorted(self._seeds), np.uint32, len(self._seeds))
            seeds = seeds[self._wanted(seeds, kind) & (self._n_words[seeds] >= s.min_words)]
            ranked = list(dict.fromkeys([*seeds.tolist(), *ranked]))
        return ranked

    def _title_candidates(self, f: _Features, kind: MatchKind | None, explain: bool) -> list[int]:
        """Stored texts whose title bands collide with the query's (one side's text short),
        most colliding bands first, at most `max_title_verify`. Unless explaining, titles
        that cannot pass (other numbers, too different in length) are dropped first."""
        s = self.settings
        assert f.title_keys is not None
        _, docs = self._title_lsh.query(f.title_keys, s.title_bucket_cap, self._kind)
        ok = self._wanted(docs, kind)
        if len(f.words) >= s.min_words:  # a long query is matched by title to short texts only
            ok &= self._n_words[docs] < s.min_words
        if not explain:
            ok &= self._title_num[docs] == _title_number_key(f.title_norm)
            # token_sort_ratio <= 200 * min(len) / (len sum): the sorted tokens keep the length.
            lens = self._title_len[docs].astype(np.float64)
            lq = float(len(f.title_norm))
            ok &= 200.0 * np.minimum(lens, lq) >= s.title_min_score * (lens + lq)
        cand, hits = np.unique(docs[ok], return_counts=True)
        return _top(cand, hits.astype(np.int64), s.max_title_verify)

    def _verdicts(
        self, f: _Features, kind: MatchKind | None, *, explain: bool = False
    ) -> list[_Verdict]:
        """Verified candidates (passed or not) of a text; one verdict per stored text."""
        s = self.settings
        out: dict[int, _Verdict] = {}

        def keep(v: _Verdict) -> None:
            old = out.get(v.doc)
            if old is None or (v.passed, _LEVEL_RANK[v.level], v.score) > (
                old.passed,
                _LEVEL_RANK[old.level],
                old.score,
            ):
                out[v.doc] = v

        if f.exact is not None:
            for doc_id in self._by_hash.get(f.exact, ()):
                doc = self._docs[doc_id]
                if doc is not None and (kind is None or doc.kind == kind):
                    keep(_Verdict(doc_id, "exact", 100.0, True))

        # Text level: LSH candidates (+ every seed) -> shingle overlap -> rapidfuzz on a few.
        if len(f.keys):
            ranked = self._text_candidates(f, kind)
            docs = [self._docs[d] for d in ranked]
            # seeds' overlaps from their precomputed table, the others' in one vectorized pass
            seed_counts = self._seed_counts(f, bigrams=False) if self._seeds else {}
            others = iter(
                _overlaps(
                    f.shingles,
                    [d.shingles for i, d in zip(ranked, docs, strict=True)
                     if d is not None and i not in self._seeds],
                ).tolist()
            )  # fmt: skip
            lq = len(f.shingles)
            scored: list[tuple[float, float, int, _Doc]] = []
            for doc_id, doc in zip(ranked, docs, strict=True):
                assert doc is not None
                n = seed_counts.get(doc_id, 0) if doc_id in self._seeds else next(others)
                lb = len(doc.shingles)
                contain = 100.0 * n / max(min(lq, lb), 1)
                scored.append((contain, n / max(lq + lb - n, 1), doc_id, doc))
            scored.sort(key=lambda t: (-max(t[0] / 100.0, t[1]), -t[2]))
            for contain, jac, doc_id, doc in scored[: s.max_verify]:
                keep(self._verify(f, doc_id, doc, contain, jac, explain))
            for contain, jac, doc_id, doc in scored[s.max_verify :]:
                # every seed gets verified (seeds must never alert), but when not explaining
                # a seed that fails every test below (no near, containment or spin) is skipped
                if doc.kind == "seed" and (explain or self._may_pass(f, doc_id, doc, contain, jac)):
                    keep(self._verify(f, doc_id, doc, contain, jac, explain))

        # Title level: when either side is short.
        if f.title_keys is not None:
            for doc_id in self._title_candidates(f, kind, explain):
                doc = self._docs[doc_id]
                assert doc is not None
                keep(self._verify_title(f, doc_id, doc))
        return list(out.values())

    def _verify(
        self, f: _Features, doc_id: int, doc: _Doc, contain: float, jac: float, explain: bool
    ) -> _Verdict:
        """Near (rapidfuzz), containment or (seeds) spun-containment verdict of a candidate."""
        s = self.settings
        near = 0.0
        q = f.norm[: s.max_text_chars]
        if doc_id in self._lazy and (explain or jac >= s.prefilter_jaccard):
            self._load_text(doc_id, doc)
        # fuzz.ratio <= 200 * min(len) / (len sum): skip rapidfuzz when it cannot pass.
        lq, ld = len(q), len(doc.norm)
        bound = 200.0 * min(lq, ld) / max(lq + ld, 1)
        if explain or (jac >= s.prefilter_jaccard and bound >= s.near_min_score):
            near = float(fuzz.ratio(q, doc.norm, score_cutoff=0.0 if explain else s.near_min_score))
        if near >= s.near_min_score:
            return _Verdict(doc_id, "near", near, True)
        long_enough = min(len(f.words), doc.n_words) >= s.min_words
        if long_enough and contain >= s.containment_min_score:
            return _Verdict(doc_id, "containment", contain, True)
        if doc.kind == "seed" and long_enough:
            spun = self._spun_containment(f, doc_id, doc)
            if spun is not None:
                return _Verdict(doc_id, "containment", spun, True)
        if near >= contain:
            return _Verdict(doc_id, "near", near, False)
        return _Verdict(doc_id, "containment", contain, False)

    def _load_text(self, doc_id: int, doc: _Doc) -> None:
        """Read a stored article's text (`add_stored`) and keep its normalized prefix."""
        self._lazy.discard(doc_id)
        if self.text_loader is None:
            raise RuntimeError(
                f"article {doc.key} was added from its stored record and needs its text: set "
                "DedupIndex.text_loader to a function reading texts by key"
            )
        text = self.text_loader([doc.key]).get(doc.key, "")
        doc.norm = normalize_text(text)[: self.settings.max_text_chars]

    def _may_pass(self, f: _Features, doc_id: int, doc: _Doc, contain: float, jac: float) -> bool:
        """Whether `_verify` can pass a seed: the cheap bounds of each of its tests."""
        s = self.settings
        if jac >= s.prefilter_jaccard:
            return True
        if min(len(f.words), doc.n_words) < s.min_words:
            return False
        if contain >= s.containment_min_score:
            return True
        return self._seed_shares(f).get(doc_id, 0.0) >= s.seed_spin_bigram_min

    def _seed_tables(self) -> tuple[tuple[U32, U32], tuple[U32, U32]]:
        """Every seed's shingles and word 2-grams, each sorted with the seed owning each."""
        if self._seed_table is None:
            per_seed: list[tuple[int, U32, U32]] = []
            for doc_id in sorted(self._seeds):
                doc = self._docs[doc_id]
                assert doc is not None
                if doc_id not in self._seed_bigrams:
                    self._seed_bigrams[doc_id] = np.unique(shingle_hashes(doc.norm.split(), 2))
                per_seed.append((doc_id, doc.shingles, self._seed_bigrams[doc_id]))
            self._seed_table = (
                _owner_table([(d, sh) for d, sh, _ in per_seed]),
                _owner_table([(d, bi) for d, _, bi in per_seed]),
            )
        return self._seed_table

    def _seed_counts(self, f: _Features, *, bigrams: bool) -> dict[int, int]:
        """Shingles (or word 2-grams) of the text found in each seed sharing one, for all
        seeds at once: one `searchsorted` of the text's set into every seed's."""
        cached = f.seed_bigrams if bigrams else f.seed_shingles
        if cached is not None:
            return cached
        shingle_table, bigram_table = self._seed_tables()
        if bigrams:
            f.seed_bigrams = _owner_counts(bigram_table, self._bigrams_of(f))
            return f.seed_bigrams
        f.seed_shingles = _owner_counts(shingle_table, f.shingles)
        return f.seed_shingles

    def _bigrams_of(self, f: _Features) -> U32:
        if f.bigrams is None:
            f.bigrams = np.unique(shingle_hashes(f.words, 2))
        return f.bigrams

    def _seed_shares(self, f: _Features) -> dict[int, float]:
        """Share (0-100) of the text's word 2-grams found in each seed sharing one."""
        if f.seed_shares is None:
            mine = len(self._bigrams_of(f))
            f.seed_shares = {
                d: 100.0 * n / max(min(mine, len(self._seed_bigrams[d])), 1)
                for d, n in self._seed_counts(f, bigrams=True).items()
            }
        return f.seed_shares

    def _spun_containment(self, f: _Features, doc_id: int, doc: _Doc) -> float | None:
        """Bigram containment (0-100) of a text in a seed when the spin rule holds, else None."""
        s = self.settings
        c2 = self._seed_shares(f).get(doc_id, 0.0)
        if c2 < s.seed_spin_bigram_min:
            return None
        seed_words = doc.norm.split()
        if aligned_ratio(f.words, seed_words, s.shingle_words) < s.seed_spin_aligned_min:
            return None
        return c2

    def _verify_title(self, f: _Features, doc_id: int, doc: _Doc) -> _Verdict:
        """Title verdict of one title candidate (one side's text is short)."""
        s = self.settings
        score = float(fuzz.token_sort_ratio(f.title_norm, doc.title_norm))
        passed = score >= s.title_min_score
        # Numbered series ("day 569", "News Quiz for Oct. 28", "Sudoku 6,231") differ by number.
        if passed and f.title_numbers != _DIGITS.findall(doc.title_norm):
            passed = False
        both_short = len(f.words) < s.min_words and doc.n_words < s.min_words
        if passed and both_short and f.norm and doc.norm:
            passed = fuzz.token_sort_ratio(f.norm, doc.norm) >= s.short_text_min_score
        return _Verdict(doc_id, "title", score, passed)
