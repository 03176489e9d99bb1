"""Grouping features of an article: stemmed words and names of its headline and lead."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache

from monitors.entities import entities as _entities
from monitors.taxonomy import ActorDefinition, default_taxonomy
from monitors.text import normalize, split_sentences
from monitors.wordlists import load_word_list, load_word_pairs

#: Words of the lead used for matching: the headline and lead carry a story's own news;
#: background recaps (which must not make a seed cover an older event) come later.
LEAD_WORDS = 70
#: At most this many lead sentences (seed pages open with short boilerplate lines, skipped).
LEAD_SENTENCES = 4
#: A lead sentence needs this many words (drops "Newsletter", "Home » World »" lines).
MIN_LEAD_SENTENCE_WORDS = 4

_STOP = load_word_list("grouping_stopwords.txt")


@dataclass(frozen=True)
class Scope:
    """The monitor's subject: the words of its names, and a pattern that finds them."""

    words: frozenset[str]
    pattern: re.Pattern[str] | None


def scope_of(actors: Sequence[ActorDefinition]) -> Scope:
    """The subject of a monitor from its actors: those marked `subject`, else the first one.

    Every report of the monitor names its subject ("North Korea", "Kim Jong Un"; "Prigozhin",
    "Wagner group"), so those words say nothing about which event a report is.
    """
    chosen = [a for a in actors if a.subject] or list(actors[:1])
    aliases = [alias for a in chosen for alias in (*a.aliases, *a.fuzzy)]
    words = frozenset(
        w for alias in aliases for w in normalize(alias.replace("*", " ")).split() if len(w) > 1
    )
    parts = sorted(
        {
            r"\W+".join(
                re.escape(w.rstrip("*")) + (r"\w*" if w.endswith("*") else "") for w in parts_of
            )
            for alias in aliases
            if (parts_of := alias.split()) and alias.strip("* ")
        },
        key=len,
        reverse=True,
    )
    pattern = re.compile(r"\b(?:" + "|".join(parts) + r")\b", re.IGNORECASE) if parts else None
    return Scope(words, pattern)


@cache
def default_scope() -> Scope:
    """The subject of the default taxonomy (monitors/data/taxonomy.yaml)."""
    return scope_of(default_taxonomy().actors)


#: News-vocabulary variants folded onto one feature (after stemming): outlets describe one
#: event with different words ("drills"/"exercises", "mother"/"mom", "custody"/"detained").
_SYNONYMS: dict[str, str] = load_word_pairs("news_synonyms.txt")


#: Words kept either side of the subject's mention in a roundup item (see `lead`).
ABOUT_WORDS = 12


def _stem(tok: str) -> str:
    """A light English suffix stripper (plural, -ed, -ing, final e); other scripts unchanged.

    fire/fires/fired/firing -> "fir", launch/launches/launched -> "launch". Crude, but the
    same word always gets the same stem, which is all matching needs.
    """
    if not tok.isascii() or not tok.isalpha() or len(tok) <= 3:
        return tok
    w = tok
    if w.endswith("ies") and len(w) > 4:
        w = w[:-3] + "y"
    elif w.endswith(("sses", "shes", "ches", "xes", "zes")):
        w = w[:-2]
    elif w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    elif w.endswith("ing") and len(w) > 5:
        w = w[:-3]
        if len(w) > 2 and w[-1] == w[-2] and w[-1] not in "lsz":
            w = w[:-1]
    elif w.endswith("ied") and len(w) > 4:
        w = w[:-3] + "y"
    elif w.endswith("eed") and len(w) > 4:
        w = w[:-1]  # agreed -> agree
    elif w.endswith("ed") and len(w) > 4:
        w = w[:-2]
        if len(w) > 2 and w[-1] == w[-2] and w[-1] not in "lsz":
            w = w[:-1]
    if w.endswith("e") and len(w) > 3 and not w.endswith("ee"):
        w = w[:-1]
    return w


_SYN_STEMS = {_stem(k): _stem(v) for k, v in _SYNONYMS.items()}


@lru_cache(maxsize=1 << 16)
def _term(tok: str) -> str:
    """Stem of a word with news synonyms folded."""
    st = _stem(tok)
    return _SYN_STEMS.get(st, st)


def lead(text: str, *, about: re.Pattern[str] | None = None) -> str:
    """The lead of a text: its first substantial sentences, up to about LEAD_WORDS words.

    With `about`, only sentences (or ";"-separated items) matching it are kept, when any do.
    """
    sentences = split_sentences(text)
    if about is not None:
        hits = []
        for item in (i for s in sentences for i in s.split("; ")):
            m = about.search(item)
            if m is not None:
                # Feeds glue items without full stops: keep the words around the mention.
                before = item[: m.start()].split()[-ABOUT_WORDS:]
                after = item[m.start() :].split()[: ABOUT_WORDS + 1]
                hits.append(" ".join(before + after))
        if hits:
            sentences = hits
    out: list[str] = []
    words = 0
    for s in sentences:
        n = len(s.split())
        if n < MIN_LEAD_SENTENCE_WORDS or "»" in s:
            continue
        out.append(s)
        words += n
        if words >= LEAD_WORDS or len(out) >= LEAD_SENTENCES:
            break
    return " ".join(out)


#: A byline or dateline that page extraction keeps at the top of a text ("By Jane Doe" on a
#: line of its own, "By Al Jazeera Staff Fri 11 Aug 2023 01.17 UTC"): who wrote it and when,
#: not what happened (and the outlet's name in it would pair each outlet's reports).
_BYLINE = re.compile(
    r"\s*By\s+(?:[^\n.]{1,60}?(?=\n)|[^\n]{1,80}?\b\d{1,2}[.:]\d{2}\b"
    r"(?:\s*(?:UTC|GMT|[AP]M|ET|EST|EDT|BST|CET|CEST)\b)?)\s*"
)


def body_of(title: str, text: str) -> str:
    """`text` without the headline and byline that page extraction often keeps at its top."""
    head = title.strip()
    if head and text.startswith(head):
        text = text[len(head) :]
    m = _BYLINE.match(text)
    return text[m.end() :] if m else text


#: Texts whose grouping features are kept (`features`, `vocabulary`): an article's features are
#: asked for when it is assigned and again when it joins a development, and a seed's every pass.
FEATURE_CACHE = 1024


def features(
    title: str,
    text: str,
    *,
    entity_fn: Callable[[str, str], set[str]] = _entities,
    scope: Scope | None = None,
) -> set[str]:
    """Matching features of an article: stemmed content words and ``e:``-prefixed names.

    The words of the monitor's subject (`scope`, default: the default taxonomy's; "North Korea",
    "Kim Jong Un") are left out: every article of the monitor has them, so they say nothing
    about which event it is. When the headline does not name the subject (a roundup,
    "Russia-Ukraine war at a glance", or a story about someone else that mentions it), the lead
    is cut to the sentences that do name it: that item is what the article reports about it.
    """
    return set(_features(title, text, entity_fn, scope or default_scope()))


@lru_cache(maxsize=FEATURE_CACHE)
def _features(
    title: str, text: str, entity_fn: Callable[[str, str], set[str]], scope: Scope
) -> frozenset[str]:
    scope_words, subject = scope.words, scope.pattern
    about = None if subject is None or subject.search(title) else subject
    body = lead(body_of(title, text), about=about)
    feats = {
        _term(t)
        for t in normalize(f"{title} {body}").split()
        if len(t) > 1 and t not in _STOP and t not in scope_words and not t.isdigit()
    }
    for e in entity_fn(title, body):
        if not set(e.split()) <= scope_words:
            feats.add("e:" + e)
    return frozenset(feats)


def vocabulary(
    title: str,
    text: str,
    *,
    entity_fn: Callable[[str, str], set[str]] = _entities,
    scope: Scope | None = None,
) -> frozenset[str]:
    """Every matching feature of a whole text (not only its lead): what a seed says."""
    return _vocabulary(title, text, entity_fn, scope or default_scope())


@lru_cache(maxsize=FEATURE_CACHE)
def _vocabulary(
    title: str, text: str, entity_fn: Callable[[str, str], set[str]], scope: Scope
) -> frozenset[str]:
    scope_words = scope.words
    words = {
        _term(t)
        for t in normalize(f"{title} {text}").split()
        if len(t) > 1 and t not in _STOP and t not in scope_words and not t.isdigit()
    }
    names = {"e:" + e for e in entity_fn(title, text) if not set(e.split()) <= scope_words}
    return frozenset(words | names)
