"""Text normalization and hashing shared by deduplication and feed change detection.

`normalize_text` maps two renderings of the same words to the same string: Unicode
compatibility forms, case, curly/straight quotes, dash variants, punctuation and whitespace
differences all disappear. What is left is lower-case words separated by single spaces.
"""

from __future__ import annotations

import hashlib
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
