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

Shingles, chunks, MinHash signatures and band keys come from `monitors.minhash` (numpy, one
matrix product-like pass per text for all its chunks); the LSH buckets live in
`monitors.bandstore.BandStore`; the thresholds in `monitors.dedup_settings.DedupSettings`
(docs/dedup.md has the numbers).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from rapidfuzz import fuzz

from monitors.bandstore import GONE, BandStore
from monitors.dedup_docs import (
    _ARTICLE,
    _LEVEL_RANK,
    _SEED,
    _Doc,
    _title_number_key,
    _top,
    _Verdict,
)
from monitors.dedup_features import Featurizer, TextFeatures, title_numbers
from monitors.dedup_settings import DedupSettings
from monitors.minhash import U32, U64, aligned_ratio, overlaps
from monitors.records import DedupMatch, MatchKind
from monitors.seed_scan import SeedScan

__all__ = ["DedupIndex", "DedupSettings"]


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
        self._featurizer = Featurizer(s)
        self._lsh = BandStore()
        self._title_lsh = BandStore()
        self._docs: list[_Doc | None] = []
        self._by_key: dict[tuple[MatchKind, str], int] = {}
        self._by_hash: dict[bytes, list[int]] = {}
        self._seeds: set[int] = set()
        self._seed_scan: SeedScan | None = None  # the seeds' tables, built when first needed
        # Per-doc columns for vectorized candidate filtering, grown by doubling.
        self._kind: npt.NDArray[np.uint8] = np.zeros(1024, dtype=np.uint8)
        self._n_words: npt.NDArray[np.int32] = np.zeros(1024, dtype=np.int32)
        self._title_len: npt.NDArray[np.int32] = np.zeros(1024, dtype=np.int32)
        self._title_num: U32 = np.zeros(1024, dtype=np.uint32)

    def features(self, *, text: str, title: str = "") -> TextFeatures:
        """The features of a text (normalized text, shingles, band keys, hashes), to compute
        once and pass to `find`, `add` and `record` of this index."""
        return self._featurizer.features(text, title)

    # -- building --------------------------------------------------------------------------
    def add(
        self,
        *,
        key: str,
        kind: MatchKind,
        text: str = "",
        title: str = "",
        features: TextFeatures | None = None,
    ) -> None:
        """Index a text under (kind, key); adding a known (kind, key) again replaces it.

        `features` (from `features()` of the same text and title) saves computing them again."""
        f = features if features is not None else self._featurizer.features(text, title)
        doc = _Doc(
            key=key,
            kind=kind,
            title=title,
            title_norm=f.title_norm,
            norm=f.norm[: self.settings.max_text_chars],
            n_words=len(f.words),
            shingles=f.shingles,
            exact=f.exact,
        )
        self._insert(doc, keys=f.keys, title_keys=f.title_keys)

    def _insert(self, doc: _Doc, *, keys: U64, title_keys: U64 | None) -> int:
        """Put a doc into the columns, LSH stores and hash map; its doc id."""
        kind, key = doc.kind, doc.key
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
            self._seed_scan = None
        self._docs.append(doc)
        self._by_key[(kind, key)] = doc_id
        return doc_id

    def _remove(self, doc_id: int) -> None:
        doc = self._docs[doc_id]
        if doc is None:
            return
        self._kind[doc_id] = GONE  # LSH entries are skipped now and dropped at the next merge
        self._lsh.mark_removed()
        self._title_lsh.mark_removed()
        if doc.exact is not None:
            ids = self._by_hash[doc.exact]
            ids.remove(doc_id)
            if not ids:
                del self._by_hash[doc.exact]
        if doc_id in self._seeds:
            self._seeds.discard(doc_id)
            self._seed_scan = None
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
        self, *, text: str = "", title: str = "", features: TextFeatures | None = None
    ) -> DedupMatch | None:
        """The duplicate verdict: the best match at or above the thresholds, else None.

        A seed match beats any article match; then exact > near > containment > title,
        then the higher score. `features` (of the same text and title) saves computing them.
        """
        f = features if features is not None else self._featurizer.features(text, title)
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
        verdicts = self._verdicts(self._featurizer.features(text, title), kind, explain=True)
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
            return codes != GONE
        return codes == (_SEED if kind == "seed" else _ARTICLE)

    def _text_candidates(self, f: TextFeatures, kind: MatchKind | None) -> list[int]:
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

    def _title_candidates(
        self, f: TextFeatures, kind: MatchKind | None, explain: bool
    ) -> list[int]:
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
        self, f: TextFeatures, kind: MatchKind | None, *, explain: bool = False
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
            # seeds' overlaps from their table, the others' in one vectorized pass
            seed_counts = self._scan().shingle_counts(f) if self._seeds else {}
            others = iter(
                overlaps(
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
                # every seed gets verified (seeds must never alert); unless explaining, a seed
                # failing the cheap bound of every test in `_verify` is skipped
                if doc.kind == "seed" and (
                    explain or self._scan().may_pass(f, doc_id, doc.n_words, contain, jac)
                ):
                    keep(self._verify(f, doc_id, doc, contain, jac, explain))

        # Title level: when either side is short.
        if f.title_keys is not None:
            for doc_id in self._title_candidates(f, kind, explain):
                doc = self._docs[doc_id]
                assert doc is not None
                keep(self._verify_title(f, doc_id, doc))
        return list(out.values())

    def _verify(
        self, f: TextFeatures, doc_id: int, doc: _Doc, contain: float, jac: float, explain: bool
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
            spun = self._spun_containment(f, doc_id, doc)
            if spun is not None:
                return _Verdict(doc_id, "containment", spun, True)
        if near >= contain:
            return _Verdict(doc_id, "near", near, False)
        return _Verdict(doc_id, "containment", contain, False)

    def _scan(self) -> SeedScan:
        """The seeds' shingle and 2-gram tables (rebuilt after seeds change)."""
        if self._seed_scan is None:
            docs = [(d, self._docs[d]) for d in sorted(self._seeds)]
            seeds = [(d, doc.shingles, doc.norm.split()) for d, doc in docs if doc is not None]
            self._seed_scan = SeedScan(seeds, self.settings)
        return self._seed_scan

    def _spun_containment(self, f: TextFeatures, doc_id: int, doc: _Doc) -> float | None:
        """Bigram containment (0-100) of a text in a seed when the spin rule holds, else None."""
        s = self.settings
        c2 = self._scan().shares(f).get(doc_id, 0.0)
        if c2 < s.seed_spin_bigram_min:
            return None
        seed_words = doc.norm.split()
        if aligned_ratio(f.words, seed_words, s.shingle_words) < s.seed_spin_aligned_min:
            return None
        return c2

    def _verify_title(self, f: TextFeatures, doc_id: int, doc: _Doc) -> _Verdict:
        """Title verdict of one title candidate (one side's text is short)."""
        s = self.settings
        score = float(fuzz.token_sort_ratio(f.title_norm, doc.title_norm))
        passed = score >= s.title_min_score
        # Numbered series ("day 569", "News Quiz for Oct. 28", "Sudoku 6,231") differ by number.
        if passed and f.title_numbers != title_numbers(doc.title_norm):
            passed = False
        both_short = len(f.words) < s.min_words and doc.n_words < s.min_words
        if passed and both_short and f.norm and doc.norm:
            passed = fuzz.token_sort_ratio(f.norm, doc.norm) >= s.short_text_min_score
        return _Verdict(doc_id, "title", score, passed)
