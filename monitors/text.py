"""Text normalization, hashing and sentence splitting.

`normalize_text` maps two renderings of the same words to the same string: Unicode
compatibility forms, case, curly/straight quotes, dash variants, punctuation and whitespace
differences all disappear. What is left is lower-case words separated by single spaces.

`normalize` is the lighter fold that topic tagging and development grouping match on (case and
punctuation only: "Korea's" -> "korea s", so a term "korea" still matches); `split_sentences`
splits text into sentences, minding abbreviations ("N. Korea", "U.S.").
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata

#: Quote and dash variants folded to their ASCII forms before punctuation is dropped.
_FOLD = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "`": "'",
        "\u00b4": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
        "\u2033": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2015": "-",
        "\u2212": "-",
        "\u00ad": "",  # soft hyphen: invisible, drop it
    }
)
#: An apostrophe inside a word ("don't", "Korea's") is dropped so the word stays whole.
_INNER_APOSTROPHE = re.compile(r"(?<=\w)'(?=\w)")
#: Everything that is not a letter or digit (underscore counts as punctuation) separates words.
_NON_WORD = re.compile(r"[\W_]+")
#: Separator of the parts hashed by `content_hash` (not a character `normalize_text` keeps).
_PART_SEPARATOR = "\x1f"


def normalize_text(text: str) -> str:
    """Casefold, unify quotes and dashes, drop punctuation and collapse whitespace.

    The result is the words of `text` in order, lower-case, separated by single spaces;
    "Kim Jong-un's “visit”" becomes "kim jong uns visit".
    """
    t = unicodedata.normalize("NFKC", text).translate(_FOLD).casefold()
    t = _INNER_APOSTROPHE.sub("", t)
    return _NON_WORD.sub(" ", t).strip()


def normalized_words(text: str) -> list[str]:
    """The words of `normalize_text(text)`."""
    return normalize_text(text).split()


def text_hash(text: str) -> str:
    """SHA-256 hex digest of `normalize_text(text)`."""
    return hashlib.sha256(normalize_text(text).encode("utf-8")).hexdigest()


def content_hash(*parts: str) -> str:
    """SHA-256 hex digest over the normalized parts, kept apart by a separator.

    Used to notice that a feed entry changed: ("a b", "c") and ("a", "b c") differ.
    """
    joined = _PART_SEPARATOR.join(normalize_text(p) for p in parts)
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()


# --- words and sentences for tagging and grouping ---------------------------------------------
_SPACES = re.compile(r"\s+")
_TAGS = re.compile(r"<[^>]+>")
# Sentence boundary candidates: end punctuation then space, or a line break.
_SENT_BREAK = re.compile(r"(?<=[.!?。…])[\"'”’)\]]*\s+|\s*\n+\s*")
# A period after these words does not end a sentence ("N. Korea", "U.S. officials", "Mr. Kim").
_ABBREV = frozenset({
    "mr", "mrs", "ms", "dr", "st", "gen", "lt", "col", "sgt", "pvt", "pte", "adm", "gov", "sen",
    "rep", "no", "vs", "jan", "feb", "aug", "sept", "oct", "nov", "dec", "u.s", "u.n", "u.k", "e.u",
})  # fmt: skip


def normalize(text: str) -> str:
    """Case-fold `text` and turn every run of non-word characters into one space."""
    # one pass: a run of non-word characters and underscores is one separator
    return _NON_WORD.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def strip_html(text: str) -> str:
    """Remove tags and unescape entities (feed descriptions carry HTML)."""
    return _SPACES.sub(" ", html.unescape(_TAGS.sub(" ", text))).strip()


def split_sentences(text: str) -> list[str]:
    """Split `text` into sentences (line breaks and end punctuation, minding abbreviations)."""
    out: list[str] = []
    start = 0
    for m in _SENT_BREAK.finditer(text):
        chunk = text[start : m.start()].rstrip() if "\n" in m.group() else text[start : m.end()]
        if "\n" not in m.group():
            words = text[start : m.start()].split()
            last = words[-1].rstrip(".!?\"'”’)]").casefold() if words else ""
            if last in _ABBREV or (len(last) == 1 and last.isalpha()):
                continue
        if chunk.strip():
            out.append(chunk.strip())
        start = m.end()
    if text[start:].strip():
        out.append(text[start:].strip())
    return out
