"""Topic tagging with evidence, and the relevance gate (the monitor's actors).

All terms of all topics and actors are compiled once per `Tagger` into one Aho-Corasick
automaton over a normalised text (case-folded, punctuation turned into single spaces), so
tagging an article is one pass over its sentences, not a loop over terms.

Term syntax (topics, actors and proximity rules alike):

- ``north korea`` matches the whole words ``North Korea``, ``north-korea``, ``NORTH KOREA``;
- a trailing ``*`` makes a prefix: ``sanction*`` matches sanctions, sanctioned, sanctioning;
- terms written in Hangul match anywhere (Korean attaches particles to nouns: 북한의, 북한은);
- in a `NearRule` group, ``@north_korea`` stands for every alias of that actor.

A topic fires on a sentence when one of its `terms` occurs there, or when one of its `near`
rules is satisfied there (one term of every group within `window` words). A match covered by
an `exclude` phrase (``axis of the sanctioned``, ``summit of mount``) does not count. A topic
with `requires_actors` fires only when those actors are found somewhere in the article.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass

import ahocorasick
from pydantic import BaseModel, ConfigDict, Field
from rapidfuzz import fuzz, process

from monitors.records import Tagging, TopicHit

#: Evidence sentences kept per topic (the brief: "max ~2 sentences per topic").
MAX_EVIDENCE = 2
#: Evidence sentences are trimmed to this many characters around the match, for alert bodies.
EVIDENCE_CHARS = 300
#: rapidfuzz `ratio` (0-100) a word n-gram needs to count as a fuzzy alias. 90 accepts
#: "Kim Jong-eun" (96 vs "kim jong un") and rejects "Kim Jong-il" (82) and "Kim Jong-nam" (87).
FUZZY_CUTOFF = 90.0
#: Fuzzy matching looks at the first this-many words only: it bounds the cost on long texts and
#: names that matter are in the headline and the first paragraphs.
FUZZY_MAX_WORDS = 600
#: Default proximity of a `NearRule`, in words: about half a news sentence.
DEFAULT_WINDOW = 12

_HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")
_NON_WORD = re.compile(r"[^\w]+|_+")
_SPACES = re.compile(r"\s+")
_TAGS = re.compile(r"<[^>]+>")
# Sentence boundary candidates: end punctuation then space, or a line break.
_SENT_BREAK = re.compile(r"(?<=[.!?。…])[\"'”’)\]]*\s+|\s*\n+\s*")
# A period after these words does not end a sentence ("N. Korea", "U.S. officials", "Mr. Kim").
_ABBREV = {
    "mr",
    "mrs",
    "ms",
    "dr",
    "st",
    "gen",
    "lt",
    "col",
    "sgt",
    "pvt",
    "pte",
    "adm",
    "gov",
    "sen",
    "rep",
    "no",
    "vs",
    "jan",
    "feb",
    "aug",
    "sept",
    "oct",
    "nov",
    "dec",
    "u.s",
    "u.n",
    "u.k",
    "e.u",
}


class NearRule(BaseModel):
    """Fires when one term of every group occurs within `window` words, in one sentence."""

    model_config = ConfigDict(extra="forbid")

    all_of: list[list[str]] = Field(min_length=1)
    window: int = Field(DEFAULT_WINDOW, ge=1, le=200)


class TopicDefinition(BaseModel):
    """One topic of the taxonomy: terms that signal it and terms that exclude a match."""

    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    terms: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)
    near: list[NearRule] = Field(default_factory=list)
    requires_actors: list[str] = Field(
        default_factory=list, description="actors that must be in the article for the topic"
    )


class ActorDefinition(BaseModel):
    """An actor of the relevance gate (e.g. North Korea) and the names that stand for it."""

    model_config = ConfigDict(extra="forbid")

    name: str
    aliases: list[str] = Field(default_factory=list)
    fuzzy: list[str] = Field(
        default_factory=list,
        description="names also matched approximately (spelling variants, transliterations)",
    )
    near: list[NearRule] = Field(
        default_factory=list, description="context rules, e.g. 'Kim' next to 'Putin'"
    )
    exclude: list[str] = Field(default_factory=list)


# --------------------------------------------------------------------------------------------
# Text helpers


def normalize(text: str) -> str:
    """Case-fold `text` and turn every run of non-word characters into one space."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return _SPACES.sub(" ", _NON_WORD.sub(" ", text)).strip()


def strip_html(text: str) -> str:
    """Remove tags and unescape entities (feed descriptions carry HTML)."""
    import html

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


def _trim(sentence: str, needle: str) -> str:
    """Trim a sentence to EVIDENCE_CHARS characters around `needle` (case-insensitive)."""
    if len(sentence) <= EVIDENCE_CHARS:
        return sentence
    pos = sentence.casefold().find(needle.split()[0].rstrip("*")) if needle else -1
    start = max(0, min(pos - EVIDENCE_CHARS // 3, len(sentence) - EVIDENCE_CHARS))
    piece = sentence[start : start + EVIDENCE_CHARS].strip()
    return (
        ("…" if start > 0 else "") + piece + ("…" if start + EVIDENCE_CHARS < len(sentence) else "")
    )


# --------------------------------------------------------------------------------------------
# Compilation


@dataclass(frozen=True, slots=True)
class _Pattern:
    """What a compiled key means: a role of one term of one topic/actor."""

    owner: str  # "t:<topic>" or "a:<actor>"
    role: str  # "term" | "exclude" | "near"
    rule: int  # index of the near rule (role "near")
    group: int  # index of the group in the rule (role "near")
    term: str  # the term as written in the configuration
    prefix: bool  # trailing '*': no right word boundary
    anywhere: bool  # Hangul: no word boundaries at all
    verify: re.Pattern[str] | None = None  # inner '*' ("Северн* Коре*"): checked at the match


@dataclass(slots=True)
class _Match:
    start: int
    end: int
    pat: _Pattern


def _key_of(term: str) -> tuple[str, bool, bool, re.Pattern[str] | None]:
    """Automaton key, prefix flag, Hangul flag and, for inner wildcards, a verifying regex."""
    anywhere = bool(_HANGUL.search(term))
    inner = term.rstrip("*")
    if "*" in inner:
        # The automaton finds the text before the first '*'; a regex checks the rest.
        parts = [
            (" " if p[:1].isspace() else "") + normalize(p) + (" " if p[-1:].isspace() else "")
            for p in term.split("*")
        ]
        rx = r"\w*".join(re.escape(p) for p in parts)
        rx = rx if term.endswith("*") else rx + r"(?!\w)"
        return parts[0], True, anywhere, re.compile(rx)
    return normalize(inner), term.endswith("*"), anywhere, None


class Tagger:
    """Tags articles with topics (with evidence) and decides relevance from actors."""

    def __init__(
        self,
        topics: list[TopicDefinition],
        actors: list[ActorDefinition],
        *,
        require_actors: list[str],
    ) -> None:
        """Compile every term of `topics` and `actors` into one automaton."""
        names = {a.name for a in actors}
        missing = [a for a in require_actors if a not in names]
        if missing:
            raise ValueError(f"require_actors names unknown actor(s): {', '.join(missing)}")
        self.topics = list(topics)
        self.actors = list(actors)
        self.require_actors = list(require_actors)
        self._aliases = {a.name: list(a.aliases) for a in actors}
        self._near: dict[str, list[NearRule]] = {}
        self._requires: dict[str, list[str]] = {}
        auto: ahocorasick.Automaton = ahocorasick.Automaton()
        table: dict[str, list[_Pattern]] = {}

        def put(owner: str, role: str, term: str, rule: int = -1, group: int = -1) -> None:
            key, prefix, anywhere, verify = _key_of(term)
            if not key:
                return
            pats = table.setdefault(key, [])
            sig = (owner, role, rule, group, prefix, verify)
            if any((p.owner, p.role, p.rule, p.group, p.prefix, p.verify) == sig for p in pats):
                return  # the same term written twice ("Choe Son Hui", "Choe Son-hui")
            pats.append(_Pattern(owner, role, rule, group, term, prefix, anywhere, verify))

        def put_near(owner: str, rules: list[NearRule]) -> None:
            self._near[owner] = rules
            for r, rule in enumerate(rules):
                for g, group in enumerate(rule.all_of):
                    for term in group:
                        for t in self._expand(term):
                            put(owner, "near", t, r, g)

        for topic in topics:
            owner = "t:" + topic.name
            for term in topic.terms:
                put(owner, "term", term)
            for term in topic.exclude:
                put(owner, "exclude", term)
            put_near(owner, topic.near)
            unknown = [a for a in topic.requires_actors if a not in names]
            if unknown:
                raise ValueError(f"topic {topic.name!r} requires unknown actor(s) {unknown}")
            self._requires[owner] = list(topic.requires_actors)
        for actor in actors:
            owner = "a:" + actor.name
            for term in actor.aliases:
                put(owner, "term", term)
            for term in actor.exclude:
                put(owner, "exclude", term)
            put_near(owner, actor.near)
        for key, pats in table.items():
            auto.add_word(key, (key, tuple(pats)))
        if table:
            auto.make_automaton()
        self._automaton: ahocorasick.Automaton | None = auto if table else None
        # Fuzzy names: normalised name -> actor, matched on word n-grams of the same length.
        self._fuzzy: dict[int, dict[str, str]] = {}
        for actor in actors:
            for name in actor.fuzzy:
                key = normalize(name)
                self._fuzzy.setdefault(len(key.split()), {})[key] = actor.name

    def _expand(self, term: str) -> list[str]:
        """Expand ``@actor`` into the actor's aliases."""
        if term.startswith("@"):
            name = term[1:]
            if name not in self._aliases:
                raise ValueError(f"near rule names unknown actor {term!r}")
            return self._aliases[name]
        return [term]

    # ----------------------------------------------------------------------------------------
    def _matches(self, norm: str) -> list[_Match]:
        """All boundary-respecting matches in a normalised sentence, exclusions applied."""
        if self._automaton is None or not norm:
            return []
        found: list[_Match] = []
        n = len(norm)
        for end_idx, (key, pats) in self._automaton.iter(norm):
            start = end_idx - len(key) + 1
            end = end_idx + 1
            left_ok = start == 0 or norm[start - 1] == " "
            right_ok = end == n or norm[end] == " "
            for p in pats:
                if not (p.anywhere or (left_ok and (right_ok or p.prefix))):
                    continue
                if p.verify is None:
                    found.append(_Match(start, end, p))
                else:
                    v = p.verify.match(norm, start)
                    if v is not None:
                        found.append(_Match(start, v.end(), p))
        excl = [(m.start, m.end, m.pat.owner) for m in found if m.pat.role == "exclude"]
        if not excl:
            return found
        return [
            m
            for m in found
            if m.pat.role != "exclude"
            and not any(o == m.pat.owner and s <= m.start and m.end <= e for s, e, o in excl)
        ]

    @staticmethod
    def _near_fired(
        owner: str, rule: NearRule, r: int, matches: list[_Match], spaces: list[int]
    ) -> str | None:
        """The first term of the first satisfied window of `rule`, or None."""
        groups = len(rule.all_of)
        hits: list[tuple[int, int, str]] = []  # (word index, group, term)
        for m in matches:
            if m.pat.rule == r and m.pat.owner == owner and m.pat.role == "near":
                hits.append((bisect_right(spaces, m.start), m.pat.group, m.pat.term))
        if len({g for _, g, _ in hits}) < groups:
            return None
        hits.sort()
        for i, (w, _, _) in enumerate(hits):
            seen: dict[int, str] = {}
            for w2, g2, t2 in hits[i:]:
                if w2 - w > rule.window:
                    break
                seen.setdefault(g2, t2)
                if len(seen) == groups:
                    return seen[0]
        return None

    def _fuzzy_actors(self, sentences: list[str], missing: set[str]) -> dict[str, list[str]]:
        """Actors among `missing` found by approximate match of their fuzzy names."""
        found: dict[str, list[str]] = {}
        if not self._fuzzy or not missing:
            return found
        words: list[str] = []
        for s in sentences:
            words.extend(s.split())
            if len(words) >= FUZZY_MAX_WORDS:
                break
        words = words[:FUZZY_MAX_WORDS]
        for size, names in self._fuzzy.items():
            wanted = {k: v for k, v in names.items() if v in missing and v not in found}
            if not wanted:
                continue
            initials = {k[0] for k in wanted}
            grams = {
                " ".join(words[i : i + size])
                for i in range(len(words) - size + 1)
                if words[i][0] in initials
            }
            for gram in grams:
                best = process.extractOne(
                    gram, list(wanted), scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF
                )
                if best is not None:
                    actor = wanted[best[0]]
                    found.setdefault(actor, []).append(gram)
        return found

    def tag(self, *, title: str, text: str) -> Tagging:
        """Tag one article: actors found, relevance (all required actors), topics with evidence."""
        raw = [s for s in ([title.strip()] if title.strip() else []) + split_sentences(text)]
        norms = [normalize(s) for s in raw]
        actors: dict[str, list[str]] = {}
        topic_terms: dict[str, list[str]] = {}
        topic_evidence: dict[str, list[tuple[str, str]]] = {}
        for raw_s, norm in zip(raw, norms, strict=True):
            matches = self._matches(norm)
            if not matches:
                continue
            fired: dict[str, list[str]] = {}
            for m in matches:
                if m.pat.role == "term":
                    fired.setdefault(m.pat.owner, []).append(m.pat.term)
            near_owners = {m.pat.owner for m in matches if m.pat.role == "near"}
            if near_owners:
                spaces = [i for i, c in enumerate(norm) if c == " "]
                for owner in near_owners:
                    for r, rule in enumerate(self._near[owner]):
                        hit = self._near_fired(owner, rule, r, matches, spaces)
                        if hit is not None:
                            fired.setdefault(owner, []).append(hit)
            for owner, terms in fired.items():
                kind, name = owner.split(":", 1)
                if kind == "a":
                    bucket = actors.setdefault(name, [])
                    bucket.extend(t for t in terms if t not in bucket)
                else:
                    tt = topic_terms.setdefault(name, [])
                    tt.extend(t for t in terms if t not in tt)
                    ev = topic_evidence.setdefault(name, [])
                    if len(ev) < MAX_EVIDENCE and all(raw_s != e for e, _ in ev):
                        ev.append((raw_s, terms[0]))
        missing = {a.name for a in self.actors} - set(actors)
        if missing:
            for name, grams in self._fuzzy_actors(norms, missing).items():
                actors[name] = ["~" + g for g in grams]
        hits: list[TopicHit] = []
        for topic in self.topics:
            if topic.name not in topic_terms:
                continue
            if any(a not in actors for a in self._requires["t:" + topic.name]):
                continue
            hits.append(
                TopicHit(
                    topic=topic.name,
                    terms=tuple(topic_terms[topic.name]),
                    evidence=tuple(_trim(s, t) for s, t in topic_evidence[topic.name]),
                )
            )
        relevant = all(a in actors for a in self.require_actors)
        return Tagging(relevant=relevant, actors=actors, topics=hits)

    def entities(self, title: str, text: str) -> set[str]:
        """Actors, people and places named in an article (see module function `entities`)."""
        tagging = self.tag(title=title, text=text)
        return {"@" + a for a in tagging.actors} | entities(title, text)


# --------------------------------------------------------------------------------------------
# Entities (for development grouping)

_CAP_SEQ = re.compile(
    r"(?<![\w'’])((?:[A-Z][\w'’\-]*|[А-ЯЁ][\w\-]*)(?:\s+(?:[A-Z][\w'’\-]*|[А-ЯЁ][\w\-]*))*)"
)
_ENTITY_STOP = set(
    [
        "a",
        "an",
        "the",
        "in",
        "on",
        "at",
        "of",
        "to",
        "for",
        "and",
        "or",
        "but",
        "as",
        "by",
        "with",
        "from",
        "after",
        "before",
        "amid",
        "over",
        "under",
        "this",
        "that",
        "these",
        "those",
        "it",
        "its",
        "he",
        "she",
        "they",
        "we",
        "his",
        "her",
        "their",
        "our",
        "us",
        "i",
        "you",
        "what",
        "why",
        "how",
        "when",
        "where",
        "who",
        "which",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "has",
        "have",
        "had",
        "will",
        "would",
        "could",
        "should",
        "may",
        "might",
        "can",
        "said",
        "says",
        "say",
        "new",
        "first",
        "last",
        "one",
        "two",
        "three",
        "live",
        "latest",
        "update",
        "updates",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
        "watch",
        "video",
        "photos",
        "president",
        "leader",
        "minister",
        "state",
        "media",
        "officials",
        "official",
        "report",
        "reports",
    ]
)


def entities(title: str, text: str) -> set[str]:
    """Names in an article: capitalised word runs (not sentence-initial function words).

    Returns lowercased names and, for multi-word names, their last word ("sergey lavrov" and
    "lavrov"), so "Lavrov" in one outlet meets "Sergey Lavrov" in another. Title-case headlines
    ("Russia Is Again Turning to North Korea") capitalise every word; their runs are only kept
    when the headline is mostly lower case.
    """
    out: set[str] = set()
    parts: list[str] = []
    words = title.split()
    caps = sum(1 for w in words if w[:1].isupper())
    if words and caps / len(words) < 0.6:
        parts.append(title)
    parts.extend(split_sentences(text)[:12])
    for part in parts:
        for m in _CAP_SEQ.finditer(part):
            toks = [t for t in normalize(m.group(1)).split() if t not in _ENTITY_STOP]
            if not toks:
                continue
            name = " ".join(toks)
            if len(name) < 3:
                continue
            out.add(name)
            if len(toks) > 1 and len(toks[-1]) > 2:
                out.add(toks[-1])
    return out


def headline_topics(tagging: Tagging, title: str) -> frozenset[str]:
    """Topics of `tagging` whose evidence includes the headline `title`."""
    head = title.strip()[:100]
    if not head:
        return frozenset()
    return frozenset(
        h.topic for h in tagging.topics if any(e.lstrip("…").startswith(head) for e in h.evidence)
    )


def tagged_text(title: str, description_html: str) -> tuple[str, str]:
    """(title, plain text) of a feed entry whose description is HTML."""
    return title, strip_html(description_html)


def iter_terms(topics: Iterable[TopicDefinition]) -> Iterable[str]:
    """Every term written in `topics` (for documentation and checks)."""
    for t in topics:
        yield from t.terms
        yield from t.exclude
        for rule in t.near:
            for group in rule.all_of:
                yield from group


# --------------------------------------------------------------------------------------------
# Defaults: the taxonomy of /work/shared/labels/GUIDE.md (North Korea monitor)

_NK = "@north_korea"
_RU = "@russia"
_KIM = [
    "лидер* КНДР",
    "руководител* КНДР",
    "kim jong un",
    "kim jong-un",
    "kim jongun",
    "kim",
    "north korean leader",
    "김정은",
    "Ким Чен Ын*",
]
_FOREIGN_LEADERS = [
    "putin",
    "putin's",
    "vladimir putin",
    "xi",
    "xi jinping",
    "russian president",
    "russian leader",
    "chinese president",
    "chinese leader",
    "lukashenko",
    "푸틴",
    "시진핑",
    "Путин*",
    "Си Цзиньпин*",
]
_MEET = [
    "meet",
    "meets",
    "meeting*",
    "met",
    "talks",
    "summit*",
    "visit*",
    "trip",
    "invit*",
    "host*",
    "hold talks",
    "sit down",
    "face to face",
    "회담",
    "만남",
    "방문",
    "встреч*",
    "встрет*",
    "переговор*",
    "визит*",
]
_TRANSFER = [
    "supply",
    "supplies",
    "supplied",
    "supplying",
    "deliver*",
    "ship*",
    "sell*",
    "sold",
    "sale*",
    "buy*",
    "bought",
    "purchas*",
    "provid*",
    "send*",
    "sent",
    "transfer*",
    "export*",
    "deal*",
    "trade*",
    "trading",
    "acquir*",
    "obtain*",
    "procur*",
    "request*",
    "seek*",
    "sought",
    "turning to",
    "turn to",
    "replenish*",
    "negotiat*",
    "gift*",
    "handed",
    "used",
    "using",
    "help",
    "cooperation",
    "co operation",
    "support*",
    "거래",
    "지원",
    "제공",
    "수출",
    "공급",
    "постав*",
    "продаж*",
    "передач*",
    "закуп*",
]
_WEAPONS = [
    "weapon*",
    "arms",
    "munition*",
    "ammunition",
    "artillery",
    "shells",
    "rocket*",
    "missile*",
    "military equipment",
    "military hardware",
    "war materiel",
    "rifle*",
    "grenade*",
    "drone*",
    "military technology",
    "satellite technology",
    "무기",
    "탄약",
    "포탄",
    "미사일",
    "оружи*",
    "боеприпас*",
    "снаряд*",
    "ракет*",
]

#: Tourism words (topic `exchanges`): only with a North Korea name close by (see the near rule).
_TOURISM = [
    "tourism",
    "tourist*",
    "tour group*",
    "tour operator*",
    "관광",
    "туризм*",
    "турист*",
]

DEFAULT_TOPICS: list[TopicDefinition] = [
    TopicDefinition(
        name="flights",
        description="Air travel, routes or airline flights involving North Korea (Air Koryo; "
        "Pyongyang-Beijing/Vladivostok/Moscow). Officials flying to a meeting do not count.",
        terms=["air koryo*", "koryo air", "고려항공", "Эйр Корё", "Эйр Коре"],
        near=[
            NearRule(
                all_of=[
                    [
                        "flight*",
                        "airline*",
                        "air route*",
                        "air travel",
                        "air service*",
                        "air link*",
                        "commercial plane*",
                        "passenger plane*",
                        "plane",
                        "airliner*",
                        "direct route*",
                        "항공편",
                        "항공노선",
                        "직항",
                        "운항",
                        "рейс*",
                        "авиарейс*",
                        "авиасообщени*",
                        "авиалини*",
                    ],
                    [_NK, "vladivostok", "beijing", "Владивосток*", "블라디보스토크"],
                ],
                window=10,
            )
        ],
        exclude=[
            "bomber flight*",
            "flights of bombers",
            "surveillance flight*",
            "reconnaissance flight*",
            "spy flight*",
            "test flight*",
            "flight test*",
            "missile flight*",
            "flight path",
            "flight distance",
            "flight time",
            "flight data",
            "surveillance plane*",
            "military plane*",
            "spy plane*",
            "flew",
        ],
        requires_actors=["north_korea"],
    ),
    TopicDefinition(
        name="sanctions",
        description="Sanctions imposed, evaded, violated, monitored or debated where North Korea "
        "or its dealings are concerned; UN Security Council handling of its launches; "
        "statements that an act violates UN resolutions; explicit sanctions threats.",
        terms=[
            "sanctions violation*",
            "violat* sanctions",
            "sanctions evasion",
            "evad* sanctions",
            "sanctions enforcement",
            "enforcing sanctions",
            "enforce sanctions",
            "sanctions regime",
            "panel of experts",
            "Security Council resolution*",
            "UN resolution*",
            "U N resolution*",
            "UNSC resolution*",
            "안보리 결의",
            "резолюци* Совбез*",
            "резолюци* СБ ООН",
        ],
        near=[
            # "US sanctions a Russian firm ... North Korean weapons", "sanctioned Lazarus Group"
            NearRule(
                all_of=[
                    ["sanction*", "blacklist*", "designat*", "제재", "санкци*"],
                    [_NK, "lazarus", "north korea russia", "кндр", "북한"],
                ],
                window=20,
            ),
            # UN Security Council handling a North Korean launch or arms transfer.
            NearRule(
                all_of=[
                    ["security council", "unsc", "안보리", "Совбез*", "Совет* Безопасности"],
                    [
                        "launch*",
                        "satellite*",
                        "missile*",
                        "condemn*",
                        "emergency meeting",
                        "violat*",
                        "block*",
                        "veto*",
                        "arms",
                        "weapon*",
                    ],
                ],
                window=25,
            ),
            NearRule(
                all_of=[["violat*", "breach*"], ["resolution*", "un sanctions", "sanctions"]],
                window=12,
            ),
        ],
        exclude=[
            "axis of the sanctioned",
            "axis of sanctioned",
            "sanctioned states",
            "sanctioned countries",
            "sanctioned nations",
            "facing sanctions",
            "under sanctions",
            "heavily sanctioned",
            "human rights",
            "designated terrorist*",
            "national security council",
        ],
        requires_actors=["north_korea"],
    ),
    TopicDefinition(
        name="summits",
        description="Meetings of heads of state/government with North Korea's leader as a party "
        "(held, planned, expected, speculated, invited). Camp David or Putin-Lukashenko are not.",
        terms=[
            "kim putin summit",
            "putin kim summit",
            "kim putin meeting",
            "putin kim meeting",
            "kim putin talks",
            "north korea russia summit",
            "russia north korea summit",
            "north korea china summit",
            "inter korean summit",
            "북러 정상회담",
            "북중 정상회담",
            "김정은 푸틴",
            "саммит* Путин* Ким*",
        ],
        near=[
            # A meeting word next to North Korea's leader and a foreign head of state.
            NearRule(all_of=[_MEET, _KIM, _FOREIGN_LEADERS], window=14),
            # "summit" next to Kim or to North Korea and Russia/China.
            NearRule(
                all_of=[
                    ["summit*", "정상회담", "саммит*", "встреч* на высшем уровне"],
                    [
                        *_KIM,
                        "north korea russia",
                        "russia north korea",
                        "북러",
                        "North Korea's leader",
                    ],
                ],
                window=10,
            ),
            # Putin's trip/visit to North Korea (planned, expected, accepted invitation).
            NearRule(
                all_of=[
                    ["trip", "visit*", "invitation", "invit*", "방북", "визит*"],
                    ["putin", "putin's", "xi", "xi's", "푸틴", "Путин*"],
                    [_NK],
                ],
                window=10,
            ),
        ],
        exclude=[
            "summit of mount*",
            "summit of the mountain",
            "mountain summit",
            "camp david summit",
            "summit at camp david",
            "g20 summit",
            "g7 summit",
            "nato summit",
            "brics summit",
            "asean summit",
            "apec summit",
            "climate summit",
            "kim jong il",
            "kim yo jong",
            "kim il sung",
            "kim jong nam",
        ],
        requires_actors=["north_korea"],
    ),
    TopicDefinition(
        name="arms",
        description="Transfer of weapons, munitions or military technology to/from North Korea, "
        "or military cooperation with it. Its own tests and production drives are not arms.",
        terms=[
            "arms deal*",
            "arms trade",
            "arms talks",
            "arms negotiation*",
            "arms sale*",
            "arms supply",
            "arms supplies",
            "arms shipment*",
            "arms transfer*",
            "arms dealings",
            "weapons deal*",
            "weapons trade",
            "weapons transfer*",
            "weapons shipment*",
            "weapons supply",
            "weapons supplies",
            "munitions deal*",
            "military cooperation",
            "military co operation",
            "defence cooperation",
            "defense cooperation",
            "defence co operation",
            "defense co operation",
            "military ties",
            "security ties",
            "defence sector",
            "defense sector",
            "military support",
            "military aid",
            "military assistance",
            "military technology",
            "technology transfer*",
            "joint drill*",
            "joint naval drill*",
            "joint exercise*",
            "military equipment",
            "war materiel",
            "군사협력",
            "군사 협력",
            "무기 거래",
            "무기거래",
            "военное сотрудничество",
            "военно техническ* сотрудничеств*",
            "поставк* оружия",
            "поставк* боеприпасов",
        ],
        near=[
            NearRule(all_of=[_TRANSFER, _WEAPONS], window=10),
            # "Hamas used North Korean weapons", "North Korean arms to Russia".
            NearRule(
                all_of=[
                    _WEAPONS,
                    [
                        "hamas",
                        "iran",
                        "hezbollah",
                        "wagner",
                        "to russia",
                        "russia's war",
                        "to moscow",
                        "kremlin",
                        "from north korea",
                        "north korean made",
                    ],
                ],
                window=12,
            ),
        ],
        exclude=[
            "arms race",
            "arms control",
            "nuclear arms",
            "arms factor*",
            "military drill*",
            "weapons production",
            "weapons program*",
            "weapons programme*",
            "missile program*",
            "missile programme*",
            "nuclear program*",
            "missile defense*",
            "missile defence*",
            "missile warning*",
            "weapons test*",
            "missile test*",
            "missile launch*",
            "missile production",
            "production of missiles",
        ],
        requires_actors=["north_korea"],
    ),
    TopicDefinition(
        name="visits",
        description="Ministerial or delegation-level visits and talks involving North Korea "
        "(Shoigu, Lavrov, Choe Son Hui, a Chinese vice-premier's delegation, advance teams).",
        terms=["lavrov's visit", "shoigu's visit", "lavrov visit*", "shoigu visit*"],
        near=[
            NearRule(
                all_of=[
                    [
                        "visit*",
                        "trip",
                        "travel*",
                        "arriv*",
                        "talks",
                        "host*",
                        "welcom*",
                        "greet*",
                        "went to",
                        "flew to",
                        "journey",
                        "in pyongyang",
                        "to pyongyang",
                        "to moscow",
                        "to north korea",
                        "방문",
                        "방북",
                        "방러",
                        "회담",
                        "визит*",
                        "переговор*",
                        "прибыл*",
                    ],
                    [
                        "lavrov",
                        "shoigu",
                        "choe son hui",
                        "choi son hui",
                        "foreign minister",
                        "defence minister",
                        "defense minister",
                        "foreign ministers",
                        "vice premier",
                        "top diplomat",
                        "delegation*",
                        "envoy",
                        "라브로프",
                        "쇼이구",
                        "최선희",
                        "외무상",
                        "대표단",
                        "Лавров*",
                        "Шойгу",
                        "Цой Сон Хи",
                        "делегаци*",
                        "министр*",
                    ],
                ],
                window=14,
            )
        ],
        exclude=["state visit*", "prime minister*", "visited his", "visited the", "visits the"],
        requires_actors=["north_korea"],
    ),
    TopicDefinition(
        name="exchanges",
        description="Tourism, culture, education, sport or student exchanges, trade/economic "
        "cooperation involving North Korea (golfers invited, borders opened to visitors).",
        terms=[
            "golf*",
            "foreign visitors",
            "cultural exchange*",
            "student exchange*",
            "people to people",
            "exchange students",
            "taekwondo",
            "athlete*",
            "sports delegation*",
            "economic cooperation",
            "trade cooperation",
            "bilateral trade",
            "trade fair",
            "교류",
            "유학생",
            "культурн* обмен*",
            "студенческ* обмен*",
            "гуманитарн* обмен*",
        ],
        near=[
            # Tourism counts only with North Korea as the destination or party, named close by
            # ("tourists return to Pyongyang"); a soldier's or a visitor's "tourist" status on
            # someone else's tour (a DMZ/JSA border tour from the South) is not an exchange.
            NearRule(all_of=[_TOURISM, ["@north_korea"]], window=8),
            NearRule(
                all_of=[
                    ["exchange*", "cooperation", "co operation", "обмен*", "сотрудничеств*"],
                    [
                        "culture",
                        "cultural",
                        "education*",
                        "sport*",
                        "student*",
                        "tourism",
                        "youth",
                        "economic",
                        "trade",
                        "культур*",
                        "образовани*",
                        "спорт*",
                        "문화",
                        "교육",
                        "체육",
                    ],
                ],
                window=6,
            ),
        ],
        exclude=[
            "prisoner exchange*",
            "exchange of fire",
            "exchanged fire",
            "exchange rate*",
            # Border-area tours run from the South (where Travis King crossed) are not tourism
            # to North Korea.
            "dmz tour*",
            "dmz tour group*",
            "jsa tour*",
            "jsa tour group*",
            "border tour*",
            "border tour group*",
            "tourist tour*",
            "tour of the dmz",
            "tour of the joint security area",
            "tour of the demilitarized zone",
            "tour of the demilitarised zone",
        ],
        requires_actors=["north_korea"],
    ),
]

DEFAULT_ACTORS: list[ActorDefinition] = [
    ActorDefinition(
        name="north_korea",
        aliases=[
            "north korea*",
            "n korea*",
            "dprk",
            "pyongyang*",
            "kim jong un*",
            "kim jong-un*",
            "kim jongun",
            "kcna",
            "korean central news agency",
            "choe son hui",
            "choe son-hui",
            "choi son hui",
            "air koryo",
            "democratic people's republic of korea",
            "북한",
            "북측",
            "조선민주주의인민공화국",
            "조선중앙통신",
            "김정은",
            "평양",
            "КНДР",
            "Северн* Коре*",
            "Пхеньян*",
            "Ким Чен Ын*",
            "Ким Чен Ир*",
        ],
        fuzzy=["kim jong un", "choe son hui", "north korea", "pyongyang"],
        # "Kim" stands for Kim Jong Un next to Putin/Xi ("Kim arrives in Russia to meet Putin").
        near=[NearRule(all_of=[["kim"], _FOREIGN_LEADERS], window=12)],
    ),
    ActorDefinition(
        name="russia",
        aliases=[
            "russia",
            "russia's",
            "russian*",
            "kremlin",
            "moscow",
            "putin*",
            "lavrov*",
            "shoigu*",
            "vladivostok",
            "peskov",
            "tass",
            "러시아",
            "푸틴",
            "블라디보스토크",
            "크렘린",
            "Росси*",
            "Российск*",
            "Путин*",
            "Кремл*",
            "Москв*",
            "Лавров*",
            "Шойгу",
        ],
        fuzzy=["vladimir putin", "sergei lavrov", "sergei shoigu"],
    ),
]
