"""Topic tagging with evidence, and the relevance gate (the monitor's actors).

All terms of all topics and actors are compiled once per `Tagger` into one Aho-Corasick
automaton over a normalised text (case-folded, punctuation turned into single spaces), so
tagging an article is one pass over its sentences, not a loop over terms. The term syntax and
the rules are described in `monitors.taxonomy`.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import ahocorasick
from rapidfuzz import fuzz, process

from monitors.records import Tagging, TopicHit
from monitors.taxonomy import ActorDefinition, NearRule, TopicDefinition
from monitors.text import normalize, split_sentences

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

_HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")


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
            choices = list(wanted)
            for gram in grams:
                best = process.extractOne(
                    gram, choices, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF
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


def headline_topics(tagging: Tagging, title: str) -> frozenset[str]:
    """Topics of `tagging` whose evidence includes the headline `title`."""
    return headline_topics_of([(h.topic, h.evidence) for h in tagging.topics], title)


def headline_topics_of(
    evidence: Iterable[tuple[str, Sequence[str] | None]], title: str
) -> frozenset[str]:
    """The topics of (topic, evidence) pairs (a stored article's tags) whose evidence includes
    the headline `title`."""
    head = title.strip()[:100]
    if not head:
        return frozenset()
    return frozenset(
        topic for topic, ev in evidence if any(e.lstrip("…").startswith(head) for e in ev or ())
    )
