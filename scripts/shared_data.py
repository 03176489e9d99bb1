"""Where the shared data (corpora, labels, seeds) lives: `$NEWSMON_SHARED`, else `shared/` beside
the checkout (the CI layout), else `/work/shared`."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    """The shared-data folder (it may not exist: callers skip or fail with a clear message)."""
    env = os.environ.get("NEWSMON_SHARED")
    if env:
        return Path(env)
    beside = REPO.parent / "shared"
    if beside.is_dir():
        return beside
    return Path("/work/shared")


SHARED = shared_dir()
CORPORA = SHARED / "corpora"
RSS2023 = CORPORA / "rss2023"
KCNA = CORPORA / "kcna2024" / "kcna.jsonl.gz"
LABELS = SHARED / "labels"
