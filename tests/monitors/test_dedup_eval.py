"""Evaluation gate of near-duplicate detection on the labelled pair set.

The pair set (tests/data/dedup/pairs.json.gz, built by `python -m scripts.build_dedup_pairs`)
holds real texts: seeds, Guardian multi-paragraph descriptions, KCNA full texts, one-line
standfirsts, and deterministic perturbations of them. All stored sides go into one index;
each query must find its own stored side (positives) or not find it (negatives).
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import pytest

from monitors.dedup import DedupIndex

PAIRS = Path(__file__).resolve().parents[1] / "data" / "dedup" / "pairs.json.gz"

#: Measured 0.9992 (1,330 of 1,331 positives) with the default settings (0.9970 with MinHash
#: seed 2: the misses are LSH lottery); floor just under the worst seed seen.
RECALL_FLOOR = 0.995
#: Measured 0.9992 (1 false positive in 338 negatives: a WSJ story re-published under a new
#: slug, arguably a true duplicate); floor just under (one more false positive fails it).
PRECISION_FLOOR = 0.998


@pytest.fixture(scope="module")
def outcome() -> tuple[Counter[str], Counter[str]]:
    with gzip.open(PAIRS, "rt", encoding="utf-8") as fh:
        data = json.load(fh)
    idx = DedupIndex()
    for key, doc in data["docs"].items():
        idx.add(key=key, kind=doc["kind"], text=doc["text"], title=doc["title"])
    hits: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    for p in data["pairs"]:
        m = idx.find(text=p["b_text"], title=p["b_title"])
        totals[p["category"]] += 1
        hits[p["category"]] += int(m is not None and m.ref == p["a"])
    return hits, totals


@pytest.mark.slow
def test_pair_set_is_balanced_and_covers_every_case(outcome):
    _, totals = outcome
    for cat in [
        "pos:truncation", "pos:excerpt", "pos:boilerplate", "pos:reorder", "pos:typos",
        "pos:spin", "pos:intro", "pos:case_quotes", "pos:seed003_unspun",
        "neg:same_event", "neg:kcna_template", "neg:short_standfirst",
    ]:  # fmt: skip
        assert totals[cat] >= 1, cat
    neg = sum(n for c, n in totals.items() if c.startswith("neg:"))
    assert neg >= 300


@pytest.mark.slow
def test_precision_and_recall_stay_above_the_floors(outcome):
    hits, totals = outcome
    tp = sum(n for c, n in hits.items() if c.startswith("pos:"))
    fp = sum(n for c, n in hits.items() if c.startswith("neg:"))
    positives = sum(n for c, n in totals.items() if c.startswith("pos:"))
    recall = tp / positives
    precision = tp / (tp + fp)
    report = ", ".join(f"{c} {hits[c]}/{totals[c]}" for c in sorted(totals))
    assert recall >= RECALL_FLOOR, f"recall {recall:.4f}; {report}"
    assert precision >= PRECISION_FLOOR, f"precision {precision:.4f}; {report}"
    assert hits["pos:seed003_unspun"] == 1, "the unspun original must match seed 003"
