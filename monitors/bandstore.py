"""LSH buckets in sorted numpy arrays: band key -> doc ids, 12 bytes an entry."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from monitors.minhash import I64, U32, U64

#: The `alive` code of a removed doc (any other code is a stored doc).
GONE = 0


class BandStore:
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
            keep = alive[self._docs] != GONE
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
        keep = alive[docs] != GONE
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
