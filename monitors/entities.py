"""Names in an article (people, places, organisations), for grouping reports into developments.

A name is a run of capitalised words, minus the words of `monitors/data/stopwords.txt` (sentence
starts, headline words, titles, days and months).
"""

from __future__ import annotations

import re

from monitors.text import normalize, split_sentences
from monitors.wordlists import load_word_list

_CAP_SEQ = re.compile(
    r"(?<![\w'’])((?:[A-Z][\w'’\-]*|[А-ЯЁ][\w\-]*)(?:\s+(?:[A-Z][\w'’\-]*|[А-ЯЁ][\w\-]*))*)"
)
#: Sentences of the body read for names: the lead is where a report names its subject.
LEAD_SENTENCES = 12


def entities(title: str, text: str) -> set[str]:
    """Names in an article: capitalised word runs (not sentence-initial function words).

    Returns lowercased names and, for multi-word names, their last word ("sergey lavrov" and
    "lavrov"), so "Lavrov" in one outlet meets "Sergey Lavrov" in another. Title-case headlines
    ("Russia Is Again Turning to North Korea") capitalise every word; their runs are only kept
    when the headline is mostly lower case.
    """
    stop = load_word_list("stopwords.txt")
    out: set[str] = set()
    parts: list[str] = []
    words = title.split()
    caps = sum(1 for w in words if w[:1].isupper())
    if words and caps / len(words) < 0.6:
        parts.append(title)
    parts.extend(split_sentences(text)[:LEAD_SENTENCES])
    for part in parts:
        for m in _CAP_SEQ.finditer(part):
            toks = [t for t in normalize(m.group(1)).split() if t not in stop]
            if not toks:
                continue
            name = " ".join(toks)
            if len(name) < 3:
                continue
            out.add(name)
            if len(toks) > 1 and len(toks[-1]) > 2:
                out.add(toks[-1])
    return out
