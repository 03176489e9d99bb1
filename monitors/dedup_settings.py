"""Settings of duplicate detection (`dedup:` in a monitor file), each default with its reason.

The values were measured on the labelled pair set (docs/dedup.md).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class DedupSettings(BaseModel):
    """Thresholds of duplicate detection; `dedup:` in a monitor file."""

    model_config = ConfigDict(extra="forbid")

    #: Word n-gram size of shingles. 3 keeps stock two-word phrases ("the dprk", "kim jong")
    #: from making unrelated KCNA texts look alike, while one swapped synonym only breaks 3.
    shingle_words: int = Field(3, ge=1, le=8, description="word n-gram size")
    #: MinHash permutations per chunk signature; LSH only needs a rough Jaccard because
    #: candidates are verified exactly afterwards. Signatures are not stored, only band keys.
    num_perm: int = Field(48, ge=4, le=512, description="MinHash permutations per chunk")
    #: LSH bands (rows = `num_perm` // bands = 4). Collision probability 1-(1-J^4)^12: 0.998 at
    #: chunk Jaccard 0.8, 0.79 at 0.6, 0.09 at 0.3. Misses are LSH lottery on short texts with
    #: few chunks: eval recall over MinHash seeds 1-3 was 0.990-0.996 with 32/8, 0.995-0.998
    #: with 40/10 and 0.997-0.999 with 48/12 (12 bytes a band entry, so 144 bytes a chunk).
    lsh_bands: int = Field(12, ge=2, le=256, description="LSH bands (divides num_perm)")
    #: Content-defined chunking: a chunk ends at a shingle whose hash is 0 mod this divisor ...
    chunk_divisor: int = Field(32, ge=2, description="content-defined chunk anchor")
    #: ... but not before this many shingles (a chunk shorter than a paragraph is too noisy) ...
    chunk_min_shingles: int = Field(24, ge=1)
    #: ... and at the latest after this many (bounds the chunk count variance).
    chunk_max_shingles: int = Field(128, ge=2)
    #: Chunks indexed (and queried) per text: ~3,000 words, longer than nearly every news article;
    #: caps index memory and query time for very long pages.
    max_chunks: int = Field(48, ge=1, le=4096, description="chunks indexed per text")
    #: Texts with fewer words are "short": text-level matching is unreliable for them (two
    #: one-line standfirsts share half their words by topic alone), so titles decide instead.
    min_words: int = Field(50, ge=1, description="shorter texts are matched by title")
    #: Exact-hash matching needs this many words: one-liners such as "Continue reading..." or
    #: "Photograph: Reuters" recur verbatim under unrelated items.
    exact_min_words: int = Field(8, ge=1)
    #: `fuzz.ratio` on normalized text at or above this is a near duplicate: typo'd, spun and
    #: re-introduced full copies score >= 93 in the eval set; different write-ups of one event
    #: score <= 50 and same-outlet KCNA template pairs <= 74 (docs/dedup.md).
    near_min_score: float = Field(85.0, ge=0, le=100)
    #: Share (0-100) of the shorter text's 3-gram shingles found in the longer text: excerpts,
    #: truncations, reordered and boilerplate-wrapped copies score >= 82, spun excerpts >= 71;
    #: KCNA pairs sharing stock paragraphs reach 66 (97th percentile 47).
    containment_min_score: float = Field(70.0, ge=0, le=100)
    #: Titles (normalized) must agree this much by `token_sort_ratio`; edits of one word in a
    #: ten-word headline score ~90, different stories about the same event rarely exceed 75.
    title_min_score: float = Field(90.0, ge=0, le=100)
    #: Titles with fewer words are too generic ("Live updates", "Quick crossword") to match on.
    title_min_words: int = Field(4, ge=1)
    #: When both sides are short texts, their texts must also agree this much (`token_sort_ratio`):
    #: a recurring headline ("Corrections and clarifications") over different summaries is new.
    short_text_min_score: float = Field(60.0, ge=0, le=100)
    #: Seeds only (few, curated; a duplicate of a seed must never alert): a heavily spun seed
    #: (seed 003 swaps a synonym every few words) keeps only ~45% of 3-grams of its original, so
    #: for seeds a text also matches when >= this share of its word 2-grams is in the seed ...
    seed_spin_bigram_min: float = Field(55.0, ge=0, le=100)
    #: ... and `fuzz.ratio` against the aligned window of the seed is >= this (the unspun part of
    #: seed 003 scores 72.5; the Guardian's own Lavrov-visit reports score below 57).
    seed_spin_aligned_min: float = Field(70.0, ge=0, le=100)
    #: Seeds are scanned one by one (not only through LSH) while there are at most this many.
    seed_scan_limit: int = Field(2000, ge=0)
    #: LSH candidates kept for exact shingle overlap (cheap numpy), ranked by colliding chunks.
    max_prefilter: int = Field(64, ge=1)
    #: Candidates verified by rapidfuzz (~1 ms each on article-length text).
    max_verify: int = Field(4, ge=1)
    #: Candidates with shingle Jaccard below this cannot reach `near_min_score` (a 25% spun copy
    #: keeps Jaccard ~0.3), so rapidfuzz is skipped for them.
    prefilter_jaccard: float = Field(0.12, ge=0, le=1)
    #: Normalized text kept per article for verification: a prefix of ~6,000 words.
    max_text_chars: int = Field(40_000, ge=1000, description="normalized prefix kept")
    #: Docs taken from one text LSH bucket (the newest). A bucket this full is a stock paragraph
    #: (boilerplate, KCNA formulas) or one text stored many times; its older members add query
    #: time that grows with the store but no duplicates the ranking would keep (docs/dedup.md).
    lsh_bucket_cap: int = Field(32, ge=1, description="newest docs per text bucket")
    #: Same for title buckets: recurring headlines ("Russia-Ukraine war: list of key events, day
    #: N", "Quick crossword No 16,512") fill buckets with hundreds of series entries.
    title_bucket_cap: int = Field(64, ge=1, description="per title bucket")
    #: Title candidates verified by `token_sort_ratio` (~1 us each), best band agreement first,
    #: after the exact filters (equal title numbers, length bound) have dropped hopeless ones.
    max_title_verify: int = Field(16, ge=1)
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
