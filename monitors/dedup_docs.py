"""What the duplicate index keeps per stored text, and its small ranking helpers."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from monitors.dedup_features import title_numbers
from monitors.minhash import I64, U32
from monitors.records import MatchKind, MatchLevel

_LEVEL_RANK: dict[MatchLevel, int] = {
    "url": 5,
    "guid": 5,
    "exact": 4,
    "near": 3,
    "containment": 2,
    "title": 1,
}
#: `_kind` codes of the per-doc numpy columns.
_ARTICLE, _SEED = 1, 2  # (GONE = 0: removed)


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


def _title_number_key(title_norm: str) -> int:
    """crc32 of the numbers of a normalized title (titles must agree on them to match)."""
    return zlib.crc32(" ".join(title_numbers(title_norm)).encode())


def _top(docs: U32, score: I64, limit: int) -> list[int]:
    """Up to `limit` docs by score, then newest first."""
    order = np.lexsort((-docs.astype(np.int64), -score))[:limit]
    return [int(d) for d in docs[order]]
