"""Tests of monitors.minhash: word ids, shingles and content-defined chunks on real seed text."""

from __future__ import annotations

from pathlib import Path

from monitors.minhash import chunk_bounds, shingle_hashes, shingles_of_ids, text_word_ids
from monitors.text import normalized_words

SEEDS = Path(__file__).resolve().parents[2] / "seeds"


def seed_text(prefix: str) -> str:
    return next(SEEDS.glob(f"{prefix}*.txt")).read_text(encoding="utf-8")


def test_chunks_are_content_defined_and_survive_an_added_intro():
    words = normalized_words(seed_text("000"))
    sh = shingle_hashes(words, 3)
    kw = {"divisor": 32, "min_len": 24, "max_len": 128, "max_chunks": 100}
    plain = chunk_bounds(sh, **kw)
    assert plain[0][0] == 0 and plain[-1][1] == len(sh)
    assert all(b - a <= 128 for a, b in plain)
    shifted = chunk_bounds(shingle_hashes(["breaking", "news", "today", *words], 3), **kw)
    chunk_sets = {frozenset(sh[a:b].tolist()) for a, b in plain}
    sh2 = shingle_hashes(["breaking", "news", "today", *words], 3)
    shifted_sets = {frozenset(sh2[a:b].tolist()) for a, b in shifted}
    # All but the first chunk or two resynchronize after the insertion.
    assert len(chunk_sets & shifted_sets) >= len(chunk_sets) - 2


def test_text_word_ids_match_the_words_and_are_stable():
    ids = text_word_ids("kim jong un kim")
    assert len(ids) == 4 and ids[0] == ids[3] and len(set(ids[:3].tolist())) == 3
    assert text_word_ids("").size == 0
    # Same value in every process and run (no salted hash()): pinned.
    assert int(text_word_ids("dprk")[0]) == 110654652  # crc32
    assert text_word_ids("dprk")[0] == text_word_ids("the dprk")[1]
    # shingle_hashes(words) and the index's text path agree.
    words = normalized_words(seed_text("000"))
    assert (
        shingle_hashes(words, 3).tolist()
        == shingles_of_ids(text_word_ids(" ".join(words)), 3).tolist()
    )
