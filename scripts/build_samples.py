"""Build the bundled sample feeds in `samples/` from the rss2023 corpus (deterministic).

    .venv/bin/python -m scripts.build_samples [--corpora PATH] [--out samples] [--seeds seeds]

Six outlets, nine days with North Korea–Russia news (31 Aug–1 Sep sanctions, 11–13 Sep Kim–Putin
summit, 16–19 Oct Lavrov's visit). Per outlet and day: every entry that names North Korea plus the
first `NEGATIVES_PER_DAY` other entries in id order. One RSS 2.0 feed per outlet, one synthetic
article page per item (title and standfirst from the corpus, layout made up), and one extra
Guardian item whose page carries the text of seed 003 (a syndicated copy of a seed article).
Links are written as `{{BASE}}/...`; `devtools.samples` substitutes its own base URL when serving.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import html
import json
import re
import shutil
from pathlib import Path
from xml.sax.saxutils import escape

import lxml.html

from scripts.build_samples_render import (
    BASE,
    DAYS,
    OUTLETS,
    SEED_FILE,
    Item,
    render_article,
    render_feed,
)

REPO = Path(__file__).resolve().parent.parent
NEGATIVES_PER_DAY = 15
NK_PATTERN = re.compile(r"north[\s-]+korea|\bn\.?\s*korea|pyongyang|kim\s+jong|\bdprk\b", re.I)
SEED_COPY_DATE = "2023-10-19T12:30:00Z"
SEED_COPY_SLUG = "guardian"
# The seed's own sharing/comment boilerplate (not part of the article) starts here.
SEED_TRAILER = "Subscribe to our YouTube channel:"


def default_corpora() -> Path:
    """Where the corpora live in a clean clone: `../shared/corpora` next to the repo."""
    return REPO.parent / "shared" / "corpora"


def rss2023_dir(corpora: Path) -> Path:
    """Accept either the corpora folder or its `rss2023` subfolder."""
    if (corpora / "rss2023").is_dir():
        return corpora / "rss2023"
    if any(corpora.glob("*.jsonl.gz")):
        return corpora
    raise FileNotFoundError(f"{corpora}: no rss2023/*.jsonl.gz here; pass --corpora PATH")


def _text(fragment: str) -> str:
    """Plain text of an HTML fragment."""
    if not fragment.strip():
        return ""
    return lxml.html.fragment_fromstring(fragment, create_parent="div").text_content()


def _clean(text: str) -> str:
    text = " ".join(text.split())
    if re.search(r"&(#x?[0-9a-fA-F]+|[a-zA-Z]+);", text):  # WSJ double-escapes some entities
        text = html.unescape(text)
    return text


def description_paragraphs(description: str) -> tuple[str, ...]:
    """Split an RSS description into plain-text paragraphs ("Continue reading..." dropped)."""
    if not description.strip():
        return ()
    root = lxml.html.fragment_fromstring(description, create_parent="div")
    paras = [_clean(p.text_content()) for p in root.iter("p", "li")]
    if not paras:
        paras = [_clean(root.text_content())]
    return tuple(p for p in paras if p and p not in ("Continue reading...", "Continue reading…"))


def mentions_north_korea(entry: dict[str, str]) -> bool:
    """True when the title or description names North Korea, Pyongyang, Kim Jong or DPRK."""
    return bool(NK_PATTERN.search(entry["title"] + " " + _text(entry["description"] or "")))


def select_entries(path: Path) -> list[Item]:
    """Every North Korea entry of DAYS, plus the first NEGATIVES_PER_DAY others per day by id."""
    by_day: dict[str, list[dict[str, str]]] = {d: [] for d in DAYS}
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            entry = json.loads(line)
            day = entry["date"][:10]
            if day in by_day:
                by_day[day].append(entry)
    items: list[Item] = []
    for day in DAYS:
        entries = by_day[day]
        nk = [e for e in entries if mentions_north_korea(e)]
        others = sorted((e for e in entries if not mentions_north_korea(e)), key=lambda e: e["id"])
        for entry, is_nk in [(e, True) for e in nk] + [
            (e, False) for e in others[:NEGATIVES_PER_DAY]
        ]:
            description = entry["description"] or ""
            items.append(
                Item(
                    id=entry["id"],
                    date=entry["date"],
                    title=entry["title"],
                    description=description,
                    paragraphs=description_paragraphs(description),
                    source_feed=entry["feed"],
                    source_outlet=entry["outlet"],
                    nk=is_nk,
                )
            )
    return items


def seed_copy_item(seeds: Path, slug: str, source_feed: str, source_outlet: str) -> Item:
    """The syndicated copy of seed 003: its headline as title, its article text as body."""
    lines = [ln.strip() for ln in (seeds / SEED_FILE).read_text(encoding="utf-8").splitlines()]
    lines = [ln for ln in lines if ln]
    # line 0 is the breadcrumb "Home » World » <headline>", line 1 the headline with a timestamp
    headline = re.sub(r"\s+[–-]\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$", "", lines[1])
    body = lines[2:]
    if SEED_TRAILER in body:
        body = body[: body.index(SEED_TRAILER)]
    digest = hashlib.sha1(f"newsmon-sample-seed-copy:{SEED_FILE}".encode()).hexdigest()[:12]
    description = "".join(f"<p>{escape(p)}</p>" for p in body[:2])
    return Item(
        id=f"{slug}:{digest}",
        date=SEED_COPY_DATE,
        title=headline,
        description=description,
        paragraphs=tuple(body),
        source_feed=source_feed,
        source_outlet=source_outlet,
        nk=True,
        seed_copy=True,
    )


def _readme(summary: list[dict[str, object]], nk_lines: list[str], corpora_readme: str) -> str:
    origin = corpora_readme.split("## Origin", 1)[-1].split("## Fields", 1)[0].strip()
    rows = "\n".join(
        f"| `{s['path']}` | {s['outlet']} | {s['items']} | {s['north_korea']} |" for s in summary
    )
    total = sum(int(str(s["items"])) for s in summary)
    return f"""# samples — bundled offline news feeds

Generated by `.venv/bin/python -m scripts.build_samples` (do not edit by hand; rerun it).
`make run` serves this folder with `newsmon sample-server` (`devtools/samples.py`) on
127.0.0.1:8765 so a monitoring pass works offline. Feed and page links are stored as `{BASE}/...`;
the server replaces `{BASE}` with its own `http://host:port`, so any port works.

- `feeds/<slug>.xml` — one RSS 2.0 feed per outlet, newest first; guid = corpus entry id,
  title, pubDate and description (HTML) exactly as in the corpus, `<source>` = original feed.
- `articles/<slug>/<id-suffix>.html` — one page per item: a **made-up** layout in the outlet's
  style (header, nav, article, related stories, footer) whose body is the entry's description
  split into paragraphs. Only the title and standfirst are real; the corpus has no article text.
- `feeds.json` — `[{{"name", "outlet", "path", "items", ...}}]`; `index.txt` — the feed paths
  (the Makefile probes `/index.txt` to see whether the server is up).

Days: {", ".join(DAYS)} (the corpus has no entries on 2023-10-18; Al Jazeera's feed ends on
2023-10-02). Per outlet and day: every entry whose title or description names North Korea,
Pyongyang, Kim Jong or DPRK, plus the first {NEGATIVES_PER_DAY} other entries in id order.

| feed | outlet | items | North Korea items |
|---|---|---:|---:|
{rows}
| total | | {total} | |

One extra Guardian item (dated {SEED_COPY_DATE}) is a **synthetic syndicated copy of seed
`{SEED_FILE}`**: its title is the seed's headline and its page body the seed's article text (the
seed site's sharing and comment boilerplate left out). The pipeline must mark it a duplicate of
seed 003 and not alert on it. Lavrov's visit (16–19 Oct) is covered by seed 003 as well.

## North Korea items

{chr(10).join(nk_lines)}

## Origin and licence of the corpus (from its README)

{origin}
"""


def build_samples(corpora: Path, out: Path, seeds: Path) -> list[dict[str, object]]:
    """(Re)write `out` (feeds/, articles/, index.txt, feeds.json, README.md); return feeds.json."""
    src = rss2023_dir(corpora)
    for sub in ("feeds", "articles"):
        if (out / sub).exists():
            shutil.rmtree(out / sub)
    (out / "feeds").mkdir(parents=True)
    summary: list[dict[str, object]] = []
    nk_lines: list[str] = []
    for slug, style in OUTLETS.items():
        items = select_entries(src / f"{slug}.jsonl.gz")
        if slug == SEED_COPY_SLUG:
            items.append(seed_copy_item(seeds, slug, items[0].source_feed, items[0].source_outlet))
        items.sort(key=lambda i: (i.date, i.id), reverse=True)
        (out / "feeds" / f"{slug}.xml").write_text(render_feed(slug, style, items), "utf-8")
        adir = out / "articles" / slug
        adir.mkdir(parents=True)
        for n, item in enumerate(items):
            related = [r for r in items[n + 1 : n + 4]]  # the three previous stories
            page = render_article(slug, style, item, related)
            (adir / f"{item.suffix}.html").write_text(page, "utf-8")
        nk_items = [i for i in items if i.nk]
        nk_lines += [
            f"- `{i.id}` {i.date[:10]} — {i.title}"
            + (" **(copy of seed 003)**" if i.seed_copy else "")
            for i in sorted(nk_items, key=lambda i: (i.date, i.id))
        ]
        summary.append(
            {
                "name": slug,
                "outlet": style.site_name,
                "path": f"/feeds/{slug}.xml",
                "items": len(items),
                "north_korea": len(nk_items),
                "corpus_outlet": items[0].source_outlet,
            }
        )
    (out / "feeds.json").write_text(
        json.dumps(summary, indent=2, ensure_ascii=False) + "\n", "utf-8"
    )
    (out / "index.txt").write_text("".join(f"{s['path']}\n" for s in summary), "utf-8")
    readme = (src / "README.md").read_text("utf-8") if (src / "README.md").exists() else ""
    (out / "README.md").write_text(_readme(summary, nk_lines, readme), "utf-8")
    return summary


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--corpora", type=Path, default=default_corpora(), help="corpora folder")
    ap.add_argument("--out", type=Path, default=REPO / "samples", help="output folder")
    ap.add_argument("--seeds", type=Path, default=REPO / "seeds", help="seed corpus folder")
    args = ap.parse_args(argv)
    summary = build_samples(args.corpora, args.out, args.seeds)
    for s in summary:
        print(f"{s['path']}: {s['items']} items ({s['north_korea']} North Korea)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
