"""Text helpers every alert rendering shares: subjects, terms, evidence and cuts.

- matched terms are found with the taxonomy's wildcards (`sanction*` matches "sanctions",
  `Северн* Коре*` matches "Северной Кореи") and shown as the words that matched;
- evidence is shown as clean sentences: no timestamps, no repeat of the headline, no duplicates;
- summaries and evidence are cut at a sentence end, else a word boundary, never mid-word;
- the nearest seed is shown only when it is similar enough to be relevant.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import urlsplit

from monitors.alert_content import KIND_LABELS, AlertContent, SeedRef

ELLIPSIS = "…"
EVIDENCE_MAX = 700  # characters of one evidence sentence shown (before escaping)
EVIDENCE_PER_TOPIC = 3
SUMMARY_MAX = 480
SUBJECT_HEADLINE_MAX = 160
#: The nearest seed is shown from this similarity (0-100) on: below it, the seed is merely the
#: least unrelated document of a small corpus, not coverage of the same story.
SEED_RELEVANT_SCORE = 60.0
_LINK_SCHEMES = ("http", "https", "mailto")

# ISO 8601 / RFC 3339 timestamps and "Sept. 12, 2023 10:05 ET"-style datelines inside text.
_TIMESTAMP = re.compile(
    r"\b\d{4}-\d\d-\d\d(?:[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:?\d\d)?)?\b"
    r"|\b\d{1,2}:\d\d\s?(?:[AaPp]\.?[Mm]\.?\s?)?(?:UTC|GMT|BST|EDT|EST|ET|KST|MSK)\b"
)
_DAY = r"(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*\.?,?\s+)?"
_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?"
_CLOCK = r"(?:,?\s+\d{1,2}[.:]\d\d(?:\s?[AaPp]\.?[Mm]\.?)?(?:\s+(?:UTC|GMT|BST|EDT|EST|ET|KST))?)?"
# "Thu 31 Aug 2023 22.29 UTC", "Sept. 12, 2023", optionally after a "By <name>" byline.
_DATELINE = re.compile(
    rf"^(?:By\s+[^.]{{1,60}}?\s+)?{_DAY}(?:\d{{1,2}}\s+{_MONTH}\s+\d{{4}}|{_MONTH}\s+\d{{1,2}},?\s+\d{{4}})"
    rf"{_CLOCK}\s*"
)
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*(?=\s|$)")


def one_line(text: str) -> str:
    """Collapse all whitespace (newlines included) to single spaces."""
    return " ".join(text.split())


def paragraphs_as_sentences(text: str) -> str:
    """One line of text where each paragraph ends as a sentence (a standfirst without a final
    full stop would otherwise run into the next paragraph)."""
    lines = [one_line(line) for line in text.splitlines() if line.strip()]
    return " ".join(line if line[-1] in ".!?…:;\"'”’)" else line + "." for line in lines)


def truncate(text: str, limit: int) -> str:
    """Cut plain text to at most `limit` characters, ending with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)].rstrip() + ELLIPSIS


def cut_text(text: str, limit: int) -> str:
    """At most `limit` characters, cut after the last whole sentence that fits, else at a word
    boundary with an ellipsis; never inside a word."""
    text = paragraphs_as_sentences(text)
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    ends = [m.end() for m in _SENTENCE_END.finditer(text[:limit]) if m.end() >= limit // 3]
    if ends:
        return text[: ends[-1]].rstrip()
    space = head.rfind(" ")
    if space > 0:
        head = head[:space]
    return head.rstrip(" ,;:-–—") + ELLIPSIS


def as_utc(dt: datetime) -> datetime:
    """`dt` in UTC (naive taken as UTC)."""
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def fmt_time(dt: datetime | None) -> str:
    """`2024-09-12 08:30 UTC`, or empty."""
    return as_utc(dt).strftime("%Y-%m-%d %H:%M UTC") if dt else ""


def linkable(url: str) -> bool:
    """True for http(s) and mailto URLs, the only ones rendered as links."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    return parts.scheme.lower() in _LINK_SCHEMES and bool(parts.netloc or parts.path)


def outlets(content: AlertContent) -> list[str]:
    """The distinct outlets of the alert's sources, in order."""
    seen: list[str] = []
    for s in content.sources:
        name = one_line(s.outlet)
        if name and name not in seen:
            seen.append(name)
    return seen


def _term_regex(term: str) -> str:
    """A term of the taxonomy as a regex: `*` is any word ending, spaces any whitespace."""
    words = []
    for word in one_line(term).split(" "):
        parts = [re.escape(p) for p in word.split("*")]
        words.append(r"\w*".join(parts))
    rx = r"\s+".join(words)
    return rx if term.rstrip().endswith("*") else rx + r"(?!\w)"


def term_pattern(terms: tuple[str, ...] | list[str]) -> re.Pattern[str] | None:
    """One regex matching any of `terms` (wildcards included) as whole words, case-insensitive."""
    cleaned = sorted({one_line(t) for t in terms if t.strip(" *")}, key=len, reverse=True)
    if not cleaned:
        return None
    alternatives = "|".join(_term_regex(t) for t in cleaned)
    return re.compile(rf"(?<!\w)(?:{alternatives})", re.IGNORECASE)


def split_terms(sentence: str, terms: tuple[str, ...] | list[str]) -> list[tuple[str, bool]]:
    """Split a sentence into (text, is_matched_term) segments."""
    pattern = term_pattern(terms)
    if pattern is None:
        return [(sentence, False)]
    out: list[tuple[str, bool]] = []
    pos = 0
    for m in pattern.finditer(sentence):
        if m.start() > pos:
            out.append((sentence[pos : m.start()], False))
        out.append((m.group(0), True))
        pos = m.end()
    if pos < len(sentence):
        out.append((sentence[pos:], False))
    return out


def shown_terms(terms: tuple[str, ...], evidence: list[str] | tuple[str, ...]) -> list[str]:
    """The terms as a reader sees them: the words a wildcard matched in the evidence (else the
    stem with an ellipsis), plain terms as they are; no duplicates."""
    out: list[str] = []
    for term in terms:
        if not term.strip(" *"):
            continue
        if "*" in term:
            pattern = term_pattern((term,))
            found = [m.group(0) for e in evidence for m in pattern.finditer(e)] if pattern else []
            forms = found or [one_line(term).replace("*", ELLIPSIS)]
        else:
            forms = [one_line(term)]
        for f in forms:
            if f.casefold() not in (o.casefold() for o in out):
                out.append(f)
    return out


def clean_evidence(sentences: tuple[str, ...], headline: str) -> list[str]:
    """Evidence as clean sentences: timestamps dropped, the headline not repeated (a sentence
    that starts with it keeps only the rest), duplicates dropped, each cut at a word boundary."""
    head = one_line(headline).casefold().rstrip(".")
    out: list[str] = []
    for raw in sentences:
        text = one_line(raw)
        if head and text.casefold().startswith(head):
            text = text[len(head) :].lstrip(" .:-–—|")
        text = one_line(_TIMESTAMP.sub(" ", _DATELINE.sub("", text)))
        text = re.sub(r"^(?:[|·•:\-–—]\s*)+", "", text).strip()
        if len(text) < 20 or text.casefold().rstrip(".") == head:
            continue
        text = cut_text(text, EVIDENCE_MAX)
        if text[:1].islower():
            text = ELLIPSIS + text
        if all(text.casefold() != o.casefold() for o in out):
            out.append(text)
    return out


def relevant_seed(seed: SeedRef | None) -> SeedRef | None:
    """The nearest seed when it is similar enough to be the story's known coverage, else None."""
    return seed if seed is not None and seed.score >= SEED_RELEVANT_SCORE else None


def actor_label(actor: str) -> str:
    """`north_korea` -> `North Korea`."""
    return " ".join(w.capitalize() for w in actor.replace("-", "_").split("_"))


def kind_label(kind: str) -> str:
    """Human label of an alert kind."""
    return KIND_LABELS.get(kind, kind)


def seed_line(seed: SeedRef) -> str:
    """`<title> (<id>), similarity NN%`."""
    return f"{one_line(seed.title) or seed.seed_id} ({seed.seed_id}), similarity {seed.score:.0f}%"


def stop_hint(monitor: str) -> str:
    """Why the reader gets this, and how to stop it."""
    return (
        f'You receive this because the newsmon monitor "{monitor}" sends its alerts here. '
        "To stop them, edit the monitor file and remove this channel from its channels: "
        "section (for email: remove your address from channels.email.to)."
    )


def alert_subject(content: AlertContent) -> str:
    """One-line subject: `[newsmon:<monitor>] <Kind>: <headline> (<topics>)`."""
    headline = truncate(one_line(content.headline) or "(no headline)", SUBJECT_HEADLINE_MAX)
    topics = [t.topic for t in content.topics if t.topic]
    suffix = f" ({', '.join(dict.fromkeys(topics))})" if topics else ""
    return f"[newsmon:{one_line(content.monitor)}] {kind_label(content.kind)}: {headline}{suffix}"
