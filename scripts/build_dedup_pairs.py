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
import json
import random
from itertools import combinations
from pathlib import Path
from typing import Any

from monitors.text import normalize_text
from scripts.build_dedup_pairs_text import (
    COMBOS,
    PERTURBATIONS,
    SEED_003_UNSPUN,
    html_to_text,
    n_words,
    paragraphs,
    read_jsonl,
)
from scripts.shared_data import SHARED

SEEDS = SHARED / "seeds"
RSS = SHARED / "corpora" / "rss2023"
KCNA = SHARED / "corpora" / "kcna2024" / "kcna.jsonl.gz"
EVENTS = SHARED / "labels" / "events-dev.json"
OUT = Path("tests/data/dedup/pairs.json.gz")
RANDOM_SEED = 20240515


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
