"""The persisted form of the dedup index: what is stored of a text, and its (band, key) pairs.

A stored article's LSH band keys live in an indexed `(band, key)` table and its verification
features (shingles, word count, normalized title, exact hash) beside it, so a pass loads only
the stored articles its new texts collide with (`DedupIndex.add_stored`) instead of
rebuilding the index from every stored text. Keys are stored as signed 64-bit integers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from monitors.dedup_features import TextFeatures
from monitors.dedup_settings import DedupSettings

#: Band number of title band j: TITLE_BAND_BASE + j (text bands are 0 .. lsh_bands - 1).
TITLE_BAND_BASE = 1000


@dataclass(frozen=True, slots=True)
class DedupRecord:
    """What the persisted index keeps of one text."""

    n_words: int
    title_norm: str
    #: the normalized text when short (title matching compares it); long texts are re-read
    short_norm: str | None
    exact: bytes | None
    #: sorted unique shingle hashes, little-endian uint32
    shingles: bytes
    #: (band, signed 64-bit key) of every text and title band key, without repeats
    bands: list[tuple[int, int]]


def record_of(f: TextFeatures, settings: DedupSettings) -> DedupRecord:
    """What the persisted index stores of a text with these features."""
    short = len(f.words) < settings.min_words
    return DedupRecord(
        n_words=len(f.words),
        title_norm=f.title_norm,
        short_norm=f.norm[: settings.max_text_chars] if short else None,
        exact=f.exact,
        shingles=f.shingles.astype("<u4").tobytes(),
        bands=band_probes(f.keys, f.title_keys, settings.lsh_bands),
    )


def band_probes(
    keys: npt.NDArray[np.uint64], title_keys: npt.NDArray[np.uint64] | None, lsh_bands: int
) -> list[tuple[int, int]]:
    """(band, signed key) pairs of a text's band keys (`lsh_bands` per signature, in order)
    and title band keys, without repeats."""
    out = dict.fromkeys(
        zip(
            (np.arange(len(keys)) % lsh_bands).tolist(),
            keys.view(np.int64).tolist(),
            strict=True,
        )
    )
    if title_keys is not None:
        bands = (TITLE_BAND_BASE + np.arange(len(title_keys))).tolist()
        out.update(dict.fromkeys(zip(bands, title_keys.view(np.int64).tolist(), strict=True)))
    return list(out)


def split_probes(
    pairs: list[tuple[int, int]], lsh_bands: int
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]]:
    """(text keys, title keys) as unsigned arrays, from (band, signed key) pairs."""
    if not pairs:
        empty = np.zeros(0, dtype=np.uint64)
        return empty, empty
    # plain lists first: a pass splits the few pairs of each of thousands of stored articles
    text = [k for b, k in pairs if b < TITLE_BAND_BASE]
    title = [k for b, k in pairs if b >= TITLE_BAND_BASE]
    if any(lsh_bands <= b < TITLE_BAND_BASE for b, _ in pairs):
        raise ValueError(
            f"stored band numbers exceed lsh_bands ({lsh_bands}): the dedup settings changed "
            "since these articles were indexed; delete the dedup_band and dedup_doc rows to "
            "re-index them"
        )
    return (
        np.array(text, dtype=np.int64).view(np.uint64),
        np.array(title, dtype=np.int64).view(np.uint64),
    )
