"""The seed corpus: known coverage, loaded from a folder of .txt files and a manifest."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from monitors.errors import ConfigError

MANIFEST = "manifest.json"


@dataclass(frozen=True, slots=True)
class SeedDoc:
    """One seed article."""

    seed_id: str
    title: str
    text: str
    outlet: str | None = None
    published: str | None = None
    event_date: str | None = None
    note: str | None = None


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:300]
    return ""


def load_seeds(folder: Path) -> list[SeedDoc]:
    """Read every `*.txt` in `folder`, with titles and dates from `manifest.json` when present."""
    if not folder.is_dir():
        raise ConfigError(
            str(folder), ["seeds: the seed corpus folder does not exist (set `seeds:` in the file)"]
        )
    meta: dict[str, dict[str, str | None]] = {}
    manifest = folder / MANIFEST
    if manifest.exists():
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
            meta = {s["id"]: s for s in data.get("seeds", [])}
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ConfigError(str(manifest), [f"not a valid seed manifest: {exc}"]) from None
    seeds = []
    for path in sorted(folder.glob("*.txt")):
        text = path.read_text(encoding="utf-8", errors="replace")
        m = meta.get(path.stem, {})
        seeds.append(
            SeedDoc(
                seed_id=path.stem,
                title=m.get("title") or _first_line(text),
                text=text,
                outlet=m.get("outlet"),
                published=m.get("published"),
                event_date=m.get("event_date"),
                note=m.get("note"),
            )
        )
    return seeds
