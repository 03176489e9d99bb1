"""Tests of monitors.text: normalization, hashes and sentences."""

from __future__ import annotations

import hashlib

from monitors.text import (
    content_hash,
    normalize,
    normalize_text,
    normalized_words,
    split_sentences,
    strip_html,
    text_hash,
)


def test_normalize_folds_case_quotes_dashes_and_punctuation():
    assert normalize_text("Kim Jong-un’s  “VISIT” — to Moscow!\n\tNow") == (
        "kim jong uns visit to moscow now"
    )


def test_normalize_unifies_quote_styles_and_unicode_forms():
    curly = "He said: ‘don’t’ «go»"
    straight = "he SAID: 'don't' \"go\""
    assert normalize_text(curly) == normalize_text(straight) == "he said dont go"
    assert normalize_text("ﬁnal １２") == "final 12"  # NFKC ligature and full-width digits


def test_normalize_keeps_non_latin_words_and_drops_underscores():
    assert normalize_text("뉴스포커스 #North_Korea") == "뉴스포커스 north korea"
    assert normalized_words("  a,b  c ") == ["a", "b", "c"]
    assert normalize_text(" ...!? ") == ""


def test_text_hash_is_sha256_of_normalized_text():
    assert text_hash("Hello, World") == hashlib.sha256(b"hello world").hexdigest()
    assert text_hash("HELLO world!") == text_hash("hello   world")
    assert text_hash("hello world") != text_hash("hello word")


def test_content_hash_keeps_parts_apart_and_ignores_formatting():
    assert content_hash("a b", "c") != content_hash("a", "b c")
    assert content_hash("Title", "Summary <b>text</b>.") == content_hash(
        "title", "summary b text b"
    )
    assert content_hash("x") != content_hash("x", "")
    assert len(content_hash()) == 64


def test_normalize_and_sentences() -> None:
    assert normalize("Kim Jong-un’s  N. KOREA") == "kim jong un s n korea"
    assert split_sentences("U.S. officials said N. Korea sold shells. Mr. Kim left!\nNext") == [
        "U.S. officials said N. Korea sold shells.",
        "Mr. Kim left!",
        "Next",
    ]


def test_strip_html_drops_tags_and_unescapes() -> None:
    assert strip_html("<p>Kim &amp; Putin</p><br/>meet") == "Kim & Putin meet"
