"""Tests of monitors.entities: names for development grouping."""

from __future__ import annotations

from monitors.entities import entities
from monitors.wordlists import load_word_list


def test_entities_keeps_names_not_headline_case() -> None:
    ents = entities("Russia Is Again Turning to North Korea", "Sergey Lavrov met Choe Son Hui.")
    assert {"sergey lavrov", "lavrov", "choe son hui"} <= ents
    assert "again" not in ents and "turning" not in ents


def test_stop_words_come_from_the_bundled_list() -> None:
    stop = load_word_list("stopwords.txt")
    assert {"the", "president", "monday", "december"} <= stop
    assert not any(w.startswith("#") or " " in w for w in stop)
    # "President" and "Monday" are not names; the person is.
    ents = entities("", "On Monday President Yoon Suk Yeol said Pyongyang would pay.")
    assert "yoon suk yeol" in ents and "pyongyang" in ents
    assert not {"monday", "president", "on"} & ents
