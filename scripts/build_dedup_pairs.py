"""Build the labelled duplicate / not-duplicate pair set of the dedup evaluation.

Run: `.venv/bin/python -m scripts.build_dedup_pairs` (writes tests/data/dedup/pairs.json.gz).

Real text only: the seed articles, Guardian multi-paragraph RSS descriptions (rss2023), KCNA
full texts (kcna2024) and rss2023 one-line standfirsts. Positives are deterministic
perturbations (fixed random seed) of real texts, real identical KCNA reprints, and a
hand-unspun part of seed 003; negatives are real different articles chosen to be hard
(same event from other outlets, KCNA pairs sharing the most vocabulary, short standfirsts
sharing words). Every pair is (a, b): `a` is stored, `b` is the query.
"""

from __future__ import annotations

import argparse
import gzip
import html
import json
import random
import re
from collections.abc import Callable, Iterator
from itertools import combinations
from pathlib import Path
from typing import Any

from monitors.text import normalize_text
from scripts.shared_data import SHARED

SEEDS = SHARED / "seeds"
RSS = SHARED / "corpora" / "rss2023"
KCNA = SHARED / "corpora" / "kcna2024" / "kcna.jsonl.gz"
EVENTS = SHARED / "labels" / "events-dev.json"
OUT = Path("tests/data/dedup/pairs.json.gz")
RANDOM_SEED = 20240515

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


# --- Building ---------------------------------------------------------------------------------


class PairSet:
    """Stored documents and (a, b) pairs, with stable ids."""

    def __init__(self) -> None:
        self.docs: dict[str, dict[str, str]] = {}
        self.pairs: list[dict[str, Any]] = []

    def doc(self, key: str, kind: str, title: str, text: str) -> str:
        """Register a stored document once."""
        self.docs.setdefault(key, {"kind": kind, "title": title, "text": text})
        return key

    def pair(self, a: str, title: str, text: str, *, dup: bool, category: str) -> None:
        """Add a query `b` (title, text) against stored `a`, with its label."""
        self.pairs.append(
            {
                "id": f"p{len(self.pairs):04d}",
                "a": a,
                "b_title": title,
                "b_text": text,
                "dup": dup,
                "category": category,
            }
        )


def load_sources(
    rng: random.Random,
) -> tuple[list[dict[str, str]], list[dict[str, str]], list[dict[str, str]]]:
    """Seeds, a sample of long Guardian descriptions and a sample of KCNA texts."""
    seeds = [
        {
            "key": f"seed:{p.stem}",
            "title": p.read_text().split("\n", 1)[0][:120],
            "text": p.read_text(),
        }
        for p in sorted(SEEDS.glob("*.txt"))
    ]
    guardian = []
    for row in read_jsonl(RSS / "guardian.jsonl.gz"):
        text = html_to_text(row["description"])
        if 120 <= n_words(text) <= 400 and text.count("\n") >= 2:
            guardian.append({"key": row["id"], "title": row["title"], "text": text})
    kcna_rows = [r for r in read_jsonl(KCNA) if 150 <= n_words(r["text"]) <= 1200]
    seen: set[str] = set()
    kcna = []
    for r in kcna_rows:
        h = normalize_text(r["text"])
        if h not in seen:
            seen.add(h)
            kcna.append({"key": r["id"], "title": r["title"], "text": r["text"]})
    return seeds, rng.sample(guardian, 90), rng.sample(kcna, 70)


def add_positives(ps: PairSet, bases: list[tuple[str, dict[str, str]]], rng: random.Random) -> None:
    """Every perturbation and combination of every base text."""
    for kind, base in bases:
        a = ps.doc(base["key"], kind, base["title"], base["text"])
        for name, fn in PERTURBATIONS.items():
            ps.pair(a, base["title"], fn(base["text"], rng), dup=True, category=f"pos:{name}")
        for name, steps in COMBOS.items():
            t = base["text"]
            for step in steps:
                t = PERTURBATIONS[step](t, rng)
            ps.pair(a, base["title"], t, dup=True, category=f"pos:{name}")


def add_kcna_reprints(ps: PairSet) -> None:
    """Identical KCNA texts published under different links (real duplicates)."""
    by_text: dict[str, list[dict[str, Any]]] = {}
    for r in read_jsonl(KCNA):
        if n_words(r["text"]) >= 60:
            by_text.setdefault(r["text"], []).append(r)
    groups = [g for g in by_text.values() if len(g) > 1]
    for g in groups[:40]:
        a = ps.doc(g[0]["id"], "article", g[0]["title"], g[0]["text"])
        ps.pair(a, g[1]["title"], g[1]["text"], dup=True, category="pos:kcna_reprint")


def add_short_positives(ps: PairSet, guardian: list[dict[str, str]], rng: random.Random) -> None:
    """A feed item with only a one-line summary against the full stored text of its story."""
    for base in guardian[:30]:
        a = ps.doc(base["key"], "article", base["title"], base["text"])
        first = paragraphs(base["text"])[0]
        title = base["title"]
        if rng.random() < 0.5:
            title = title.replace("’", "'").rstrip(".") + " - live"
        ps.pair(a, title, first, dup=True, category="pos:title_summary")


def word_set(text: str) -> set[str]:
    """Distinct normalized words of four letters or more (content-ish words)."""
    return {w for w in normalize_text(text).split() if len(w) >= 4}


def jaccard(a: set[str], b: set[str]) -> float:
    """Jaccard similarity of two sets."""
    return len(a & b) / max(len(a | b), 1)


#: Two standfirsts sharing a run of this many words copy the same wire sentence.
SYNDICATED_RUN = 8


def shared_run(a: str, b: str) -> int:
    """Length in words of the longest word sequence two texts share."""
    wa, wb = normalize_text(a).split(), normalize_text(b).split()
    best = 0
    prev = [0] * (len(wb) + 1)
    for x in wa:
        cur = [0] * (len(wb) + 1)
        for j, y in enumerate(wb, 1):
            if x == y:
                cur[j] = prev[j - 1] + 1
                best = max(best, cur[j])
        prev = cur
    return best


def add_same_event_negatives(ps: PairSet, seeds: list[dict[str, str]]) -> None:
    """Different outlets' write-ups of one labelled event, and seeds about the same story."""
    rows = {}
    for f in RSS.glob("*.jsonl.gz"):
        for r in read_jsonl(f):
            rows[r["id"]] = r
    events = json.loads(EVENTS.read_text())["events"]
    for ev in events:
        items = [rows[i] for i in ev["entries"] if i in rows]
        done = 0
        for x, y in combinations(items, 2):
            if x["outlet"] == y["outlet"] or done >= 4:
                continue
            tx, ty = html_to_text(x["description"]), html_to_text(y["description"])
            if not tx or not ty or shared_run(tx, ty) >= SYNDICATED_RUN:
                continue  # a syndicated wire copy (same sentences): not a clean negative
            a = ps.doc(x["id"], "article", x["title"], tx)
            ps.pair(a, y["title"], ty, dup=False, category="neg:same_event")
            done += 1
    # Seeds about the same summits: 000 and 002 (Kim-Putin summit), 001 and 004 (Putin visit).
    by_stem = {s["key"].split(":")[1][:3]: s for s in seeds}
    for sx, sy in [("000", "002"), ("001", "004"), ("002", "000"), ("004", "001"), ("003", "001")]:
        ps.pair(
            by_stem[sx]["key"],
            by_stem[sy]["title"],
            by_stem[sy]["text"],
            dup=False,
            category="neg:same_event_seed",
        )
    # Guardian pieces on the Lavrov visit against seed 003 (same event, other outlet).
    for r in rows.values():
        if r["outlet"].startswith("The Guardian") and "Lavrov" in r["description"]:
            t = html_to_text(r["description"])
            if "Pyongyang" in t or "North Korea" in t:
                ps.pair(by_stem["003"]["key"], r["title"], t, dup=False, category="neg:same_event")


def add_kcna_negatives(ps: PairSet, rng: random.Random) -> None:
    """Pairs of different KCNA texts sharing the most vocabulary (stock phrasing)."""
    rows = [r for r in read_jsonl(KCNA) if 80 <= n_words(r["text"]) <= 1500]
    uniq: dict[str, dict[str, Any]] = {}
    for r in rows:
        uniq.setdefault(normalize_text(r["text"]), r)
    docs = list(uniq.values())
    rng.shuffle(docs)
    docs = docs[:700]
    sets = [word_set(d["text"]) for d in docs]
    scored = []
    for i, j in combinations(range(len(docs)), 2):
        if len(sets[i] & sets[j]) >= 25:
            scored.append((jaccard(sets[i], sets[j]), i, j))
    scored.sort(reverse=True)
    used: set[int] = set()
    n = 0
    for jac, i, j in scored:
        if n >= 120:
            break
        if i in used or j in used or jac > 0.6:
            continue  # >0.6 of distinct words shared: a re-edit of one story, label unsure
        used.update((i, j))
        a = ps.doc(docs[i]["id"], "article", docs[i]["title"], docs[i]["text"])
        ps.pair(a, docs[j]["title"], docs[j]["text"], dup=False, category="neg:kcna_template")
        n += 1


def add_short_negatives(ps: PairSet, rng: random.Random) -> None:
    """One-line standfirsts of different stories that share several words."""
    rows = []
    for name in ["bbc-news", "wsj-world", "nytimes-world", "aljazeera", "skynews-world"]:
        for r in read_jsonl(RSS / f"{name}.jsonl.gz"):
            t = html_to_text(r["description"])
            if 12 <= n_words(t) < 50:
                rows.append((r, t, word_set(t)))
    rng.shuffle(rows)
    rows = rows[:3000]
    inv: dict[str, list[int]] = {}
    for i, (_, _, ws) in enumerate(rows):
        for w in ws:
            inv.setdefault(w, []).append(i)
    n = 0
    used: set[int] = set()
    for i, (r, t, ws) in enumerate(rows):
        if n >= 120 or i in used:
            continue
        counts: dict[int, int] = {}
        for w in ws:
            if len(inv[w]) < 200:
                for j in inv[w]:
                    if j != i and j not in used:
                        counts[j] = counts.get(j, 0) + 1
        if not counts:
            continue
        j = max(counts, key=lambda k: (counts[k], -k))
        r2, t2, _ = rows[j]
        if counts[j] < 4 or normalize_text(r["title"]) == normalize_text(r2["title"]):
            continue
        used.update((i, j))
        a = ps.doc(r["id"], "article", r["title"], t)
        ps.pair(a, r2["title"], t2, dup=False, category="neg:short_standfirst")
        n += 1


def build() -> PairSet:
    """The whole pair set, deterministic."""
    rng = random.Random(RANDOM_SEED)
    seeds, guardian, kcna = load_sources(rng)
    ps = PairSet()
    bases = (
        [("seed", s) for s in seeds]
        + [("article", g) for g in guardian[:50]]
        + [("article", k) for k in kcna[:50]]
    )
    add_positives(ps, bases, rng)
    seed003 = next(s for s in seeds if s["key"].startswith("seed:003"))
    ps.pair(seed003["key"], "", SEED_003_UNSPUN, dup=True, category="pos:seed003_unspun")
    add_kcna_reprints(ps)
    add_short_positives(ps, guardian[50:], rng)
    add_same_event_negatives(ps, seeds)
    add_kcna_negatives(ps, rng)
    add_short_negatives(ps, rng)
    for s in seeds:
        ps.doc(s["key"], "seed", s["title"], s["text"])
    return ps


def main() -> None:
    """Build and write the pair set; print counts per category."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    ps = build()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    data = {"random_seed": RANDOM_SEED, "docs": ps.docs, "pairs": ps.pairs}
    with gzip.GzipFile(args.out, "wb", mtime=0) as fh:
        fh.write(json.dumps(data, ensure_ascii=False, sort_keys=True).encode("utf-8"))
    counts: dict[str, int] = {}
    for p in ps.pairs:
        counts[p["category"]] = counts.get(p["category"], 0) + 1
    for k in sorted(counts):
        print(f"{k:28s} {counts[k]}")
    print(f"{len(ps.pairs)} pairs, {len(ps.docs)} docs, {args.out.stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
