"""Tests of monitors.dedup on real seed, Guardian and KCNA text."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from monitors.dedup import DedupIndex
from monitors.dedup_settings import DedupSettings
from monitors.text import normalized_words
from scripts.build_dedup_pairs_text import SEED_003_UNSPUN, lead_excerpt, reorder, spin, typos

ROOT = Path(__file__).resolve().parents[2]
SEEDS = sorted((ROOT / "seeds").glob("*.txt"))
PAIRS = ROOT / "tests" / "data" / "dedup" / "pairs.json.gz"


@pytest.fixture(scope="module")
def data() -> dict:
    with gzip.open(PAIRS, "rt", encoding="utf-8") as fh:
        return json.load(fh)


@pytest.fixture(scope="module")
def seed_index() -> DedupIndex:
    idx = DedupIndex()
    for p in SEEDS:
        text = p.read_text(encoding="utf-8")
        idx.add(key=p.stem, kind="seed", text=text, title=text.split("\n", 1)[0])
    return idx


def seed_text(prefix: str) -> str:
    return next(p for p in SEEDS if p.name.startswith(prefix)).read_text(encoding="utf-8")


def test_exact_match_ignores_case_quotes_and_whitespace(seed_index):
    text = seed_text("001").upper().replace("“", '"').replace("”", '"').replace("\n", "\n\n  ")
    m = seed_index.find(text=text)
    assert m is not None
    assert (m.kind, m.ref, m.level, m.score) == ("seed", "001_1ddc493ec9b58cb5", "exact", 100.0)


def test_typos_are_a_near_duplicate(seed_index):
    import random

    m = seed_index.find(text=typos(seed_text("002"), random.Random(1)))
    assert m is not None and m.ref.startswith("002") and m.level == "near"
    assert 85 <= m.score < 100


def test_lead_excerpt_and_reordered_copy_are_contained(seed_index):
    import random

    rng = random.Random(2)
    for text in (lead_excerpt(seed_text("004"), rng), reorder(seed_text("004"), rng)):
        m = seed_index.find(text=text)
        assert m is not None and m.ref.startswith("004")
        assert m.level in ("containment", "near")


def test_unspun_original_of_seed_003_matches_the_spun_seed(seed_index):
    m = seed_index.find(text=SEED_003_UNSPUN)
    assert m is not None and m.kind == "seed" and m.ref.startswith("003")
    assert m.level == "containment"


def test_spun_copy_matches_its_source():
    import random

    idx = DedupIndex()
    original = seed_text("000")
    idx.add(key="a1", kind="article", text=original, title="x")
    m = idx.find(text=spin(original, random.Random(3)))
    assert m is not None and m.ref == "a1" and m.level == "near"


def test_same_event_seeds_are_not_duplicates(seed_index):
    # 000 and 002 are both about the Kim-Putin summit, 001 and 004 about Putin's visit.
    idx = DedupIndex()
    idx.add(key="000", kind="seed", text=seed_text("000"))
    idx.add(key="001", kind="seed", text=seed_text("001"))
    assert idx.find(text=seed_text("002")) is None
    assert idx.find(text=seed_text("004")) is None
    near = idx.nearest(text=seed_text("002"))
    assert near is not None and near.score < 50


def test_kcna_template_pair_is_not_a_duplicate(data):
    # The KCNA pair sharing the largest share of distinct words among the labelled negatives.
    pair = next(p for p in data["pairs"] if p["category"] == "neg:kcna_template")
    a = data["docs"][pair["a"]]
    idx = DedupIndex()
    idx.add(key=pair["a"], kind="article", text=a["text"], title=a["title"])
    assert idx.find(text=pair["b_text"], title=pair["b_title"]) is None
    near = idx.nearest(text=pair["b_text"], title=pair["b_title"])
    assert near is None or near.score < DedupSettings().near_min_score


def test_seed_is_preferred_over_an_article():
    text = seed_text("004")
    idx = DedupIndex()
    idx.add(key="art", kind="article", text=text, title="t")
    idx.add(key="sd", kind="seed", text=text[: len(text) * 2 // 3], title="t")
    m = idx.find(text=text)
    assert m is not None and (m.kind, m.ref) == ("seed", "sd")
    only_articles = idx.nearest(text=text, kind="article")
    assert only_articles is not None and only_articles.ref == "art"


def test_adding_a_key_twice_replaces_it():
    idx = DedupIndex()
    idx.add(key="k", kind="article", text=seed_text("001"), title="one")
    idx.add(key="k", kind="article", text=seed_text("002"), title="two")
    assert len(idx) == 1
    assert idx.find(text=seed_text("001")) is None
    m = idx.find(text=seed_text("002"))
    assert m is not None and (m.ref, m.title, m.level) == ("k", "two", "exact")
    idx.add(key="k", kind="seed", text=seed_text("002"))
    assert len(idx) == 2  # (kind, key) is the identity


def test_short_texts_match_by_title_not_by_shared_words():
    idx = DedupIndex()
    title = "North Korea's Kim Jong Un arrives in Russia for talks with Putin"
    body = "Kim travelled by armoured train to meet the Russian president in the far east."
    idx.add(key="a", kind="article", text=body, title=title)
    m = idx.find(text=body.replace("armoured", "armored"), title=title.upper() + ".")
    assert m is not None and m.level == "title" and m.score >= 90
    other = "Putin says talks with Kim Jong Un will cover economic ties and the far east."
    assert idx.find(text=other, title="Putin hails talks with North Korea's leader") is None


def test_numbered_series_titles_do_not_match():
    idx = DedupIndex()
    idx.add(
        key="d569",
        kind="article",
        text="As the war enters its 569th day, these are the main developments.",
        title="Russia-Ukraine war: List of key events, day 569",
    )
    q = "As the war enters its 570th day, these are the main developments."
    assert idx.find(text=q, title="Russia-Ukraine war: List of key events, day 570") is None


def test_empty_index_and_empty_query():
    idx = DedupIndex()
    assert len(idx) == 0
    assert idx.find(text="anything at all") is None
    assert idx.nearest(text="") is None


def test_duplicate_is_found_among_many_boilerplate_sharing_texts():
    # 300 stored texts share one stock paragraph; the copy of one of them must still be found
    # although the shared chunk's bucket is capped at the newest docs.
    words = normalized_words(seed_text("000"))
    stock = " ".join(words[:80])
    idx = DedupIndex()
    for i in range(300):
        own = " ".join(f"w{i}x{j}" for j in range(120))
        idx.add(key=f"a{i}", kind="article", text=f"{stock} {own}", title=f"item {i}")
    target = " ".join(f"w{17}x{j}" for j in range(120))
    m = idx.find(text=f"{stock} {target} and one more sentence here", title="other")
    assert m is not None and m.ref == "a17"
    assert idx.find(text=f"{stock} " + " ".join(f"n{j}" for j in range(120))) is None


def test_removed_text_is_not_found_after_merges():
    idx = DedupIndex()
    idx.add(key="k", kind="article", text=seed_text("001"), title="one")
    idx.index_bytes()  # merges the LSH inserts into the sorted arrays
    idx.add(key="k", kind="article", text=seed_text("002"), title="two")
    idx.index_bytes()
    assert idx.find(text=seed_text("001")[:-40]) is None
    m = idx.find(text=seed_text("002")[:-40])
    assert m is not None and m.ref == "k"
