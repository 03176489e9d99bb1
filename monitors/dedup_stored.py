"""A pass's dedup index: seeds and this pass's texts as usual, stored articles added from
their persisted records (`monitors.dedup_records`) under the band keys the pass probes, their
long texts read only when a verification needs them."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from monitors.dedup import DedupIndex
from monitors.dedup_docs import _Doc, _Verdict
from monitors.dedup_features import TextFeatures
from monitors.dedup_records import DedupRecord, split_probes
from monitors.dedup_settings import DedupSettings
from monitors.text import normalize_text

#: Reads stored articles' texts by key: {key: text}.
TextLoader = Callable[[list[str]], dict[str, str]]


class PassDedupIndex(DedupIndex):
    """`DedupIndex` that also takes stored articles from their records (`add_stored`)."""

    def __init__(self, settings: DedupSettings | None = None, *, texts: TextLoader) -> None:
        """An empty index; `texts` reads stored articles' texts when verification needs them."""
        super().__init__(settings)
        self.texts = texts
        self._lazy: set[int] = set()  # stored articles whose long text is not loaded yet

    def add_stored(
        self, *, key: str, title: str, record: DedupRecord, bands: list[tuple[int, int]]
    ) -> None:
        """Index a stored article (kind "article") from its record, under the (band, key)
        pairs of `bands` only (those a pass probes); add in ascending age order."""
        text_keys, title_keys = split_probes(bands, self.settings.lsh_bands)
        doc = _Doc(
            key=key,
            kind="article",
            title=title,
            title_norm=record.title_norm,
            norm=record.short_norm or "",
            n_words=record.n_words,
            shingles=np.frombuffer(record.shingles, dtype="<u4").astype(np.uint32),
            exact=record.exact,
        )
        doc_id = self._insert(doc, keys=text_keys, title_keys=title_keys)
        if record.short_norm is None:
            self._lazy.add(doc_id)

    def _remove(self, doc_id: int) -> None:
        self._lazy.discard(doc_id)
        super()._remove(doc_id)

    def _verify(
        self, f: TextFeatures, doc_id: int, doc: _Doc, contain: float, jac: float, explain: bool
    ) -> _Verdict:
        if doc_id in self._lazy and (explain or jac >= self.settings.prefilter_jaccard):
            # only then can `_verify` compare the texts themselves
            self._lazy.discard(doc_id)
            text = self.texts([doc.key]).get(doc.key, "")
            doc.norm = normalize_text(text)[: self.settings.max_text_chars]
        return super()._verify(f, doc_id, doc, contain, jac, explain)
