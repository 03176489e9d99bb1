"""Near-duplicate detection against the seed corpus and stored articles.

Levels, cheapest first (URL and GUID exactness is the storage layer's job):

1. **exact** - SHA-256 of the normalized text (`monitors.text.text_hash`).
2. **near** / **containment** - candidates from a datasketch MinHash-LSH index over
   *content-defined chunks* of word 3-gram shingles (chunk boundaries depend on the words, not
   on positions, so an added intro, a cut tail or moved paragraphs leave most chunks intact
   and an excerpt shares whole chunks with its source). Candidates are ranked by how many
   query chunks collide, then by exact shingle overlap, and only the best few are verified:
   *near* by `rapidfuzz.fuzz.ratio` / `token_sort_ratio` on the normalized texts, *containment*
   by the share of the shorter text's shingles found in the longer one.
3. **title** - when either side is short (a one-line feed summary), fuzzy title agreement
   (`token_sort_ratio`) over candidates from a second, small MinHash-LSH index of title words.

Seeds win over articles: a text that duplicates a seed must never alert.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from dataclasses import dataclass
from typing import cast

import numpy as np
import numpy.typing as npt
from datasketch import MinHash, MinHashLSH
from pydantic import BaseModel, ConfigDict, Field, model_validator
from rapidfuzz import fuzz

from monitors.records import DedupMatch, MatchKind, MatchLevel
from monitors.text import normalize_text

U32 = npt.NDArray[np.uint32]

# --- Defaults, each with the reason for its value (measured in docs/dedup.md) ----------------

#: Word n-gram size of shingles. 3 keeps stock two-word phrases ("the dprk", "kim jong")
#: from making unrelated KCNA texts look alike, while one swapped synonym only breaks 3.
SHINGLE_WORDS = 3
#: MinHash permutations per chunk signature. 32 uint32 = 128 bytes a chunk; LSH only needs a
#: rough Jaccard because candidates are verified exactly afterwards.
NUM_PERM = 32
#: LSH bands (rows = NUM_PERM // bands = 4). Collision probability 1-(1-J^4)^8: 0.98 at chunk
#: Jaccard 0.8, 0.65 at 0.6, 0.06 at 0.3; a duplicate has several chunks, so missing all is rare.
LSH_BANDS = 8
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


def _word_ids(words: list[str]) -> npt.NDArray[np.uint64]:
    """Stable 32-bit ids of words (crc32: fast, identical across processes)."""
    return np.fromiter((zlib.crc32(w.encode()) for w in words), dtype=np.uint64, count=len(words))


def shingle_hashes(words: list[str], k: int) -> U32:
    """32-bit hashes of the word k-grams of `words`, in text order (one per start position).

    A text shorter than k words gives one shingle of all its words (none when empty).
    """
    if not words:
        return np.zeros(0, dtype=np.uint32)
    ids = _word_ids(words)
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
    bounds: list[tuple[int, int]] = []
    start = 0
    ai = 0
    while start < n and len(bounds) < max_chunks:
        lo, hi = start + min_len - 1, start + max_len - 1
        while ai < len(anchors) and anchors[ai] < lo:
            ai += 1
        end = anchors[ai] + 1 if ai < len(anchors) and anchors[ai] <= hi else hi + 1
        end = min(end, n)
        bounds.append((start, end))
        start = end
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] < min_len // 2:
        last = bounds.pop()
        bounds[-1] = (bounds[-1][0], last[1])
    return bounds


@dataclass(slots=True)
class _Features:
    """What the index computes once per text, for adding or querying."""

    norm: str
    words: list[str]
    exact: str | None
    shingles: U32  # sorted unique 3-gram (shingle_words) hashes
    sigs: list[MinHash]  # whole text first, then its chunks
    title_norm: str
    title_numbers: list[str]
    title_sig: MinHash | None


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
    exact: str | None
    n_sigs: int
    has_title_sig: bool


@dataclass(slots=True)
class _Verdict:
    doc: int
    level: MatchLevel
    score: float
    passed: bool


def _identity(x: int) -> int:
    return x


_DIGITS = re.compile(r"\d+")


def _containment(a: U32, b: U32) -> tuple[float, float]:
    """(share 0-100 of the smaller set found in the other, Jaccard 0-1) of two sorted sets."""
    inter = len(np.intersect1d(a, b, assume_unique=True))
    smaller = max(min(len(a), len(b)), 1)
    union = max(len(a) + len(b) - inter, 1)
    return 100.0 * inter / smaller, inter / union


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


class DedupIndex:
    """Incremental duplicate index over seeds and stored articles.

    `add` one text at a time; `find` returns the duplicate verdict (or None); `nearest` the
    best candidate even below the thresholds. Memory per article is the normalized text
    (capped), its shingle hashes (4 bytes a word) and the LSH entries of its signatures
    (measured in docs/dedup.md).
    """

    def __init__(self, settings: DedupSettings | None = None) -> None:
        self.settings = settings or DedupSettings()
        s = self.settings
        self._rows = s.num_perm // s.lsh_bands
        self._perms = MinHash(num_perm=s.num_perm, seed=s.seed, scheme="affine32").permutations
        # Titles: 4 bands of 2 rows over 8 permutations (collision 0.98 at title Jaccard 0.8).
        self._title_perm = 8
        self._title_perms = MinHash(
            num_perm=self._title_perm, seed=s.seed + 1, scheme="affine32"
        ).permutations
        self._lsh = MinHashLSH(num_perm=s.num_perm, params=(s.lsh_bands, self._rows))
        self._title_lsh = MinHashLSH(num_perm=self._title_perm, params=(4, 2))
        self._docs: list[_Doc | None] = []
        self._by_key: dict[tuple[MatchKind, str], int] = {}
        self._by_hash: dict[str, list[int]] = {}
        self._seeds: set[int] = set()
        self._seed_bigrams: dict[int, U32] = {}  # id(_Doc) -> 2-gram hashes, seeds only
        self._slots = s.max_chunks + 1  # LSH keys per text: whole text + chunks

    # -- features --------------------------------------------------------------------------
    def _minhash(self, values: U32, perms: object, num_perm: int) -> MinHash:
        m = MinHash(
            num_perm=num_perm,
            hashfunc=_identity,
            permutations=cast(tuple[npt.ArrayLike, npt.ArrayLike], perms),
            scheme="affine32",
        )
        m.update_batch(values.tolist())
        return m

    def _features(self, text: str, title: str) -> _Features:
        s = self.settings
        norm = normalize_text(text)
        words = norm.split()
        sh = shingle_hashes(words, s.shingle_words)
        uniq = np.unique(sh[: self._shingle_cap(norm)])
        sigs: list[MinHash] = []
        if len(words) >= s.min_words:
            sigs.append(self._minhash(uniq, self._perms, s.num_perm))
            for a, b in chunk_bounds(
                sh,
                divisor=s.chunk_divisor,
                min_len=s.chunk_min_shingles,
                max_len=s.chunk_max_shingles,
                max_chunks=s.max_chunks,
            ):
                sigs.append(self._minhash(np.unique(sh[a:b]), self._perms, s.num_perm))
        title_norm = normalize_text(title)
        title_words = title_norm.split()
        title_sig = None
        if len(title_words) >= s.title_min_words:
            tw = np.unique(shingle_hashes(title_words, 1))
            title_sig = self._minhash(tw, self._title_perms, self._title_perm)
        exact = None
        if len(words) >= s.min_words:
            exact = hashlib.sha256(norm.encode("utf-8")).hexdigest()
        elif len(words) >= s.exact_min_words and len(title_words) >= s.title_min_words:
            # A short text repeats under unrelated items (weekly quizzes, recaps): only the
            # same title *and* the same text is exact.
            exact = hashlib.sha256(f"{title_norm}\x1f{norm}".encode()).hexdigest()
        return _Features(
            norm=norm,
            words=words,
            exact=exact,
            shingles=uniq,
            sigs=sigs,
            title_norm=title_norm,
            title_numbers=_DIGITS.findall(title_norm),
            title_sig=title_sig,
        )

    def _shingle_cap(self, norm: str) -> int:
        """Shingles covering the kept text prefix (roughly one per word)."""
        cap = self.settings.max_text_chars
        return len(norm) if len(norm) <= cap else norm.count(" ", 0, cap) + 1

    # -- building --------------------------------------------------------------------------
    def add(self, *, key: str, kind: MatchKind, text: str, title: str = "") -> None:
        """Index a text under (kind, key); adding a known (kind, key) again replaces it."""
        if (kind, key) in self._by_key:
            self._remove(self._by_key.pop((kind, key)))
        f = self._features(text, title)
        doc_id = len(self._docs)
        base = doc_id * self._slots
        for i, sig in enumerate(f.sigs):
            self._lsh.insert(base + i, sig, check_duplication=False)
        if f.title_sig is not None:
            self._title_lsh.insert(doc_id, f.title_sig, check_duplication=False)
        if f.exact is not None:
            self._by_hash.setdefault(f.exact, []).append(doc_id)
        if kind == "seed":
            self._seeds.add(doc_id)
        self._docs.append(
            _Doc(
                key=key,
                kind=kind,
                title=title,
                title_norm=f.title_norm,
                norm=f.norm[: self.settings.max_text_chars],
                n_words=len(f.words),
                shingles=f.shingles,
                exact=f.exact,
                n_sigs=len(f.sigs),
                has_title_sig=f.title_sig is not None,
            )
        )
        self._by_key[(kind, key)] = doc_id

    def _remove(self, doc_id: int) -> None:
        doc = self._docs[doc_id]
        if doc is None:
            return
        base = doc_id * self._slots
        for i in range(doc.n_sigs):
            self._lsh.remove(base + i)
        if doc.has_title_sig:
            self._title_lsh.remove(doc_id)
        if doc.exact is not None:
            ids = self._by_hash[doc.exact]
            ids.remove(doc_id)
            if not ids:
                del self._by_hash[doc.exact]
        self._seeds.discard(doc_id)
        self._seed_bigrams.pop(id(doc), None)
        self._docs[doc_id] = None

    def __len__(self) -> int:
        """Number of texts stored (a key re-added counts once)."""
        return len(self._by_key)

    # -- querying --------------------------------------------------------------------------
    def find(self, *, text: str, title: str = "") -> DedupMatch | None:
        """The duplicate verdict: the best match at or above the thresholds, else None.

        A seed match beats any article match; then exact > near > containment > title,
        then the higher score.
        """
        verdicts = [v for v in self._verdicts(self._features(text, title), None) if v.passed]
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

        def wanted(doc_id: int) -> _Doc | None:
            doc = self._docs[doc_id]
            if doc is None or (kind is not None and doc.kind != kind):
                return None
            return doc

        if f.exact is not None:
            for doc_id in self._by_hash.get(f.exact, ()):
                if wanted(doc_id) is not None:
                    keep(_Verdict(doc_id, "exact", 100.0, True))

        # Text level: LSH candidates (+ every seed) -> shingle overlap -> rapidfuzz on a few.
        if f.sigs:
            hits: dict[int, int] = {}
            for sig in f.sigs:
                for doc_id in {k // self._slots for k in self._lsh.query(sig)}:
                    hits[doc_id] = hits.get(doc_id, 0) + 1
            ranked = sorted(hits, key=lambda d: (-hits[d], -d))[: s.max_prefilter]
            if len(self._seeds) <= s.seed_scan_limit:
                ranked = list(dict.fromkeys([*sorted(self._seeds), *ranked]))
            scored: list[tuple[float, float, int, _Doc]] = []
            for doc_id in ranked:
                doc = wanted(doc_id)
                if doc is None or doc.n_words < s.min_words:
                    continue
                contain, jac = _containment(f.shingles, doc.shingles)
                scored.append((contain, jac, doc_id, doc))
            scored.sort(key=lambda t: (-max(t[0] / 100.0, t[1]), -t[2]))
            for contain, jac, doc_id, doc in scored[: s.max_verify]:
                keep(self._verify(f, doc_id, doc, contain, jac, explain))
            for contain, jac, doc_id, doc in scored[s.max_verify :]:
                if doc.kind == "seed":  # every seed gets verified: seeds must never alert
                    keep(self._verify(f, doc_id, doc, contain, jac, explain))

        # Title level: when either side is short.
        if f.title_sig is not None:
            query_short = len(f.words) < s.min_words
            for doc_id in self._title_lsh.query(f.title_sig):
                doc = wanted(doc_id)
                if doc is None or not (query_short or doc.n_words < s.min_words):
                    continue
                keep(self._verify_title(f, doc_id, doc))
        return list(out.values())

    def _verify(
        self, f: _Features, doc_id: int, doc: _Doc, contain: float, jac: float, explain: bool
    ) -> _Verdict:
        """Near (rapidfuzz), containment or (seeds) spun-containment verdict of a candidate."""
        s = self.settings
        near = 0.0
        q = f.norm[: s.max_text_chars]
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
            spun = self._spun_containment(f, doc)
            if spun is not None:
                return _Verdict(doc_id, "containment", spun, True)
        if near >= contain:
            return _Verdict(doc_id, "near", near, False)
        return _Verdict(doc_id, "containment", contain, False)

    def _spun_containment(self, f: _Features, doc: _Doc) -> float | None:
        """Bigram containment (0-100) of a text in a seed when the spin rule holds, else None."""
        s = self.settings
        bigrams = self._seed_bigrams.get(id(doc))
        if bigrams is None:
            bigrams = np.unique(shingle_hashes(doc.norm.split(), 2))
            self._seed_bigrams[id(doc)] = bigrams
        c2, _ = _containment(np.unique(shingle_hashes(f.words, 2)), bigrams)
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
