"""Tests of monitors.bandstore: LSH buckets in sorted arrays plus recent inserts."""

from __future__ import annotations

import numpy as np

from monitors.bandstore import BandStore


def test_band_store_merges_and_caps_buckets_newest_first():
    alive = np.ones(100, dtype=np.uint8)
    store = BandStore()
    for doc in range(10):
        store.add(np.array([7, 100 + doc], dtype=np.uint64), doc, alive)
    _, recent = store.query(np.array([7], dtype=np.uint64), cap=3, alive=alive)
    assert recent.tolist() == [7, 8, 9]
    store.merge(alive)
    qi, docs = store.query(np.array([105, 7], dtype=np.uint64), cap=3, alive=alive)
    assert sorted(zip(qi.tolist(), docs.tolist(), strict=True)) == [(0, 5), (1, 7), (1, 8), (1, 9)]
    alive[9] = 0  # removed docs disappear at the next merge
    store.mark_removed()
    store.add(np.array([7], dtype=np.uint64), 10, alive)
    store.merge(alive)
    _, docs = store.query(np.array([7], dtype=np.uint64), cap=100, alive=alive)
    assert docs.tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 10]
    assert len(store) == 19  # 20 entries, minus doc 9's two, plus one


def test_band_store_query_after_a_bulk_build_merges_instead_of_indexing():
    alive = np.ones(10, dtype=np.uint8)
    store = BandStore()
    store.INDEX_MAX = 3
    for doc in range(5):
        store.add(np.array([1, 2], dtype=np.uint64), doc, alive)
    _, docs = store.query(np.array([2], dtype=np.uint64), cap=2, alive=alive)
    assert docs.tolist() == [3, 4] and store.nbytes() == 10 * 12  # all merged
