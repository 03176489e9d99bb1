"""Source text and the deterministic perturbations the dedup pair set is built from."""

from __future__ import annotations

import gzip
import html
import json
import random
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from monitors.text import normalize_text

# --- Source text ----------------------------------------------------------------------------
_TAG = re.compile(r"<[^>]+>")
_BLOCK = re.compile(r"</p>|<br\s*/?>", re.I)
_CONTINUE = re.compile(r"Continue reading\.*\s*$")


def html_to_text(description: str) -> str:
    """Plain text of an RSS description: one paragraph a line, 'Continue reading...' dropped."""
    t = _BLOCK.sub("\n", description)
    t = html.unescape(_TAG.sub(" ", t))
    lines = [re.sub(r"[ \t]+", " ", ln).strip() for ln in t.split("\n")]
    text = "\n".join(ln for ln in lines if ln)
    return _CONTINUE.sub("", text).strip()


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Rows of a gzipped JSON Lines file."""
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            yield json.loads(line)


def n_words(text: str) -> int:
    """Words of the normalized text."""
    return len(normalize_text(text).split())


# --- Perturbations (deterministic given the Random) -------------------------------------------
def paragraphs(text: str) -> list[str]:
    """Non-empty lines; a one-paragraph text is split into sentences instead."""
    paras = [p.strip() for p in text.split("\n") if p.strip()]
    if len(paras) < 3:
        paras = [s for s in re.split(r"(?<=[.!?])\s+", " ".join(paras)) if s]
    return paras


def truncate(text: str, rng: random.Random) -> str:
    """Keep the first 45-75% of the words, cut mid-sentence (a truncated copy)."""
    words = text.split(" ")
    return " ".join(words[: max(1, int(len(words) * rng.uniform(0.45, 0.75)))])


def lead_excerpt(text: str, rng: random.Random) -> str:
    """The first paragraphs, at least 60 words and at most about half the text."""
    out: list[str] = []
    for p in paragraphs(text):
        out.append(p)
        if n_words("\n".join(out)) >= max(60, n_words(text) * rng.uniform(0.3, 0.5)):
            break
    return "\n".join(out)


NAV = [
    "Home | World | Politics | Business | Opinion | Sport | Culture | Subscribe | Sign in",
    "Skip to main content. Menu. Search. Edition: International. Newsletters. Podcasts",
    "Advertisement. Most read. Live. Video. Follow us on Facebook, X and Instagram.",
    "You are here: News > Asia-Pacific > Korean Peninsula. Share this article. Print.",
]


FOOTER = [
    "Related stories: Markets live; Weather; Your morning briefing. Comments are closed.",
    "Copyright 2024. All rights reserved. Terms of use. Privacy policy. Cookie settings.",
    "Sign up for our daily newsletter to get the top stories delivered to your inbox.",
    "Topics: Russia, North Korea, Diplomacy. Read more. Share on Telegram. Report an error.",
]


def boilerplate(text: str, rng: random.Random) -> str:
    """The same body between another page's navigation and footer text."""
    head = rng.sample(NAV, 2)
    foot = rng.sample(FOOTER, 2)
    return "\n".join([*head, text, *foot])


def reorder(text: str, rng: random.Random) -> str:
    """Paragraphs (or sentences) in another order."""
    paras = paragraphs(text)
    first, rest = paras[:1], paras[1:]
    rng.shuffle(rest)
    if len(rest) > 1:
        rest = rest[1:] + rest[:1]  # never the identity
    return "\n".join(first[::-1] + rest[::-1] if rng.random() < 0.5 else rest + first)


def typos(text: str, rng: random.Random) -> str:
    """About 3% of words with a character typo, and punctuation changed here and there."""
    words = text.split(" ")
    for i, w in enumerate(words):
        if len(w) > 3 and rng.random() < 0.03:
            j = rng.randrange(1, len(w) - 1)
            op = rng.randrange(3)
            if op == 0:
                w = w[:j] + w[j + 1 :]
            elif op == 1:
                w = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
            else:
                w = w[:j] + rng.choice("aeiourstn") + w[j:]
        if w.endswith(",") and rng.random() < 0.3:
            w = w[:-1] + ";"
        elif w.endswith(".") and rng.random() < 0.2:
            w = w[:-1] + "!"
        words[i] = w
    return " ".join(words).replace(" - ", " — ").replace('"', "“", 1)


SYNONYMS = {
    "said": "stated",
    "says": "states",
    "foreign": "international",
    "visit": "go to",
    "visited": "went to",
    "meeting": "assembly",
    "countries": "nations",
    "country": "nation",
    "leader": "chief",
    "head": "pinnacle",
    "defence": "protection",
    "defense": "protection",
    "important": "necessary",
    "became": "grew to become",
    "military": "navy",
    "talks": "discussions",
    "people": "individuals",
    "Americans": "Individuals",
    "help": "assist",
    "government": "authorities",
    "however": "nevertheless",
    "also": "additionally",
    "first": "preliminary",
    "new": "recent",
    "large": "giant",
    "big": "huge",
    "show": "present",
    "shows": "exhibits",
    "because": "as a result of",
    "about": "regarding",
    "many": "quite a few",
    "several": "a number of",
    "recent": "current",
    "week": "weeks time",
    "year": "yr",
    "years": "years",
    "officials": "officers",
    "official": "officer",
    "support": "assist",
    "economic": "financial",
    "Eastern": "Jap",
    "Forum": "Discussion board",
    "where": "the place",
    "well": "effectively",
    "same": "similar",
    "issues": "points",
    "world": "globe",
    "city": "metropolis",
    "police": "law enforcement",
    "attack": "assault",
    "war": "warfare",
    "began": "started",
    "announced": "introduced",
    "expected": "anticipated",
    "according": "in line with",
}


def spin(text: str, rng: random.Random) -> str:
    """Synonym spinning: most words found in a small synonym table are swapped."""

    def swap(m: re.Match[str]) -> str:
        w = m.group(0)
        repl = SYNONYMS.get(w) or SYNONYMS.get(w.lower())
        if repl is None or rng.random() > 0.85:
            return w
        return repl[0].upper() + repl[1:] if w[0].isupper() else repl

    return re.sub(r"[A-Za-z]+", swap, text)


INTROS = [
    "EXCLUSIVE: Here is what we know so far.",
    "This story was first published by our partner outlet and is republished with permission.",
    "Editor's note: this article has been updated with new information.",
    "(Reuters) - The following report was filed from Seoul on Wednesday.",
]


def intro(text: str, rng: random.Random) -> str:
    """An intro sentence added before the text."""
    return rng.choice(INTROS) + "\n" + text


def case_quotes(text: str, rng: random.Random) -> str:
    """Case changes (a heading in capitals, a sentence lower-case) and quote styles swapped."""
    paras = paragraphs(text)
    i = rng.randrange(len(paras))
    paras[i] = paras[i].upper()
    j = rng.randrange(len(paras))
    paras[j] = paras[j].lower()
    t = "\n".join(paras)
    t = t.replace("“", '"').replace("”", '"').replace("’", "'").replace("'", "’")
    return t.replace(" - ", " – ")


PERTURBATIONS: dict[str, Callable[[str, random.Random], str]] = {
    "truncation": truncate,
    "excerpt": lead_excerpt,
    "boilerplate": boilerplate,
    "reorder": reorder,
    "typos": typos,
    "spin": spin,
    "intro": intro,
    "case_quotes": case_quotes,
}


COMBOS: dict[str, list[str]] = {
    "boilerplate+typos": ["typos", "boilerplate"],
    "excerpt+spin": ["spin", "excerpt"],
    "intro+truncation": ["truncation", "intro"],
    "reorder+case_quotes": ["case_quotes", "reorder"],
}


#: Part of seed 003 with its obvious spins reverted by hand ("go to" -> "visit",
#: "International Minister" -> "Foreign Minister", "Jap Financial Discussion board" ->
#: "Eastern Economic Forum", ...): the plausible original that the spun seed was made from.
SEED_003_UNSPUN = """Relations between Moscow and Pyongyang, which were already very strong, \
are reaching new heights before our eyes. This was confirmed by the visit of Russian Foreign \
Minister Sergey Lavrov to the DPRK. What was discussed during this trip and which key areas \
became the most important for the interaction between the two countries?

This is the third high-level meeting between Russia and North Korea in the last three months. \
First, in July, the head of the Russian Ministry of Defense, Sergei Shoigu, flew to Pyongyang. \
Then in September, Kim Jong-un arrived in Vladivostok, where he met with Vladimir Putin on the \
sidelines of the Eastern Economic Forum. Well, at the same time he visited objects that \
interested him - for example, the "Vostochny" cosmodrome.

Now Lavrov visited Pyongyang - first, he said, he held "detailed, concrete talks on all issues \
of bilateral interaction" with his North Korean counterpart Choi Son-hui, and then met with \
North Korean leader Kim Jong-un. And in diplomatic practice, such non-rank meetings (when not \
even the prime minister, but a minister meets the head of state) usually mean that such trust \
relations have been established between the countries, when the protocol issues (which for \
the DPRK, as for any eastern country, are almost sacred) recede into the background.

"Bloomberg" calls the purpose of this visit preparation for a major Russian-North Korean \
high-level meeting - however, Vladimir Putin accepted Comrade Kim's invitation to visit North \
Korea. However, the minister had other tasks."""
