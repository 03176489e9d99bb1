"""What a pass derives from the monitor's configuration and seeds, kept for the rest of the
process: the compiled tagger, each seed's tagging and each seed's dedup features.

Seeds change rarely, but every pass tagged each of them twice (`prepare` for its topics, the
development index for its headline topics) and computed their dedup features again. Entries
are keyed by everything they are computed from (the taxonomy and required actors; the dedup
settings; the seed's title and text), so a changed seed or setting is computed afresh. A new
process starts empty.
"""

from __future__ import annotations

import json
import threading
import weakref

from monitors.config import MonitorConfig
from monitors.dedup import DedupIndex
from monitors.dedup_features import TextFeatures
from monitors.records import Tagging
from monitors.tagging import Tagger

#: Entries kept per cache; when full a cache starts over (a monitor has tens of seeds).
MAX_ENTRIES = 4096

_lock = threading.Lock()
_taggers: dict[str, Tagger] = {}
_seed_tags: weakref.WeakKeyDictionary[Tagger, dict[tuple[str, str], Tagging]] = (
    weakref.WeakKeyDictionary()
)
_seed_features: dict[tuple[str, str, str], TextFeatures] = {}


def tagger_key(cfg: MonitorConfig) -> str:
    """What a monitor's tagger is compiled from, as one string."""
    return json.dumps(
        [
            [t.model_dump(mode="json") for t in cfg.topics],
            [a.model_dump(mode="json") for a in cfg.actors],
            list(cfg.alerts.require_actors),
        ],
        sort_keys=True,
    )


def cached_tagger(cfg: MonitorConfig) -> Tagger:
    """The monitor's tagger, compiled once per process for the same topics and actors."""
    key = tagger_key(cfg)
    with _lock:
        tagger = _taggers.get(key)
    if tagger is None:
        tagger = Tagger(cfg.topics, cfg.actors, require_actors=cfg.alerts.require_actors)
        with _lock:
            if len(_taggers) >= MAX_ENTRIES:
                _taggers.clear()
            tagger = _taggers.setdefault(key, tagger)
    return tagger


def seed_tagging(tagger: Tagger, *, title: str, text: str) -> Tagging:
    """`tagger.tag(title=title, text=text)` of a seed, computed once per tagger and text
    (callers only read it)."""
    with _lock:
        memo = _seed_tags.setdefault(tagger, {})
        tagging = memo.get((title, text))
    if tagging is None:
        tagging = tagger.tag(title=title, text=text)
        with _lock:
            if len(memo) >= MAX_ENTRIES:
                memo.clear()
            memo[(title, text)] = tagging
    return tagging


def seed_features(index: DedupIndex, *, title: str, text: str) -> TextFeatures:
    """`index.features(text=text, title=title)` of a seed, computed once per dedup settings
    and text (the index only reads them when adding the seed)."""
    key = (index.settings.model_dump_json(), title, text)
    with _lock:
        feats = _seed_features.get(key)
    if feats is None:
        feats = index.features(text=text, title=title)
        with _lock:
            if len(_seed_features) >= MAX_ENTRIES:
                _seed_features.clear()
            _seed_features[key] = feats
    return feats
