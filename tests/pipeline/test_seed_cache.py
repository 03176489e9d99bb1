"""The per-process seed caches return what computing afresh returns, keyed by what they are
computed from."""

from __future__ import annotations

from pathlib import Path

from monitors.config import MonitorConfig, parse_config
from monitors.dedup import DedupIndex, DedupSettings
from monitors.tagging import Tagger
from pipeline import seed_cache

SEED_TITLE = "North Korea fires ballistic missile toward the East Sea"
SEED_TEXT = (
    "North Korea fired a ballistic missile toward the East Sea on Thursday, the South Korean "
    "military said, the latest in a series of missile launches condemned by Seoul, Tokyo and "
    "Moscow, whose arms deals with Russia are under scrutiny. " * 6
)


def _config(tmp_path: Path, **extra: object) -> MonitorConfig:
    return parse_config(
        {
            "name": "m",
            "seeds": str(tmp_path),
            "data_dir": str(tmp_path / "data"),
            "feeds": [{"name": "f", "url": "http://127.0.0.1:9/f.xml"}],
            **extra,
        }
    )


def test_one_tagger_per_taxonomy(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    first = seed_cache.cached_tagger(cfg)
    assert seed_cache.cached_tagger(_config(tmp_path)) is first
    other = _config(tmp_path, alerts={"require_actors": []})
    assert seed_cache.tagger_key(other) != seed_cache.tagger_key(cfg)
    assert seed_cache.cached_tagger(other) is not first
    assert seed_cache.cached_tagger(other).require_actors == []


def test_seed_tagging_is_the_taggers_result_once_computed(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    tagger = seed_cache.cached_tagger(cfg)
    fresh = Tagger(cfg.topics, cfg.actors, require_actors=cfg.alerts.require_actors)
    got = seed_cache.seed_tagging(tagger, title=SEED_TITLE, text=SEED_TEXT)
    assert got == fresh.tag(title=SEED_TITLE, text=SEED_TEXT)
    assert got.relevant and got.topic_names() == ["arms"]
    assert seed_cache.seed_tagging(tagger, title=SEED_TITLE, text=SEED_TEXT) is got
    changed = seed_cache.seed_tagging(tagger, title=SEED_TITLE, text="Nothing to see.")
    assert changed is not got and not changed.topics


def test_seed_features_follow_the_dedup_settings() -> None:
    index = DedupIndex(DedupSettings())
    got = seed_cache.seed_features(index, title=SEED_TITLE, text=SEED_TEXT)
    fresh = index.features(text=SEED_TEXT, title=SEED_TITLE)
    assert got.norm == fresh.norm and (got.keys == fresh.keys).all()
    assert seed_cache.seed_features(index, title=SEED_TITLE, text=SEED_TEXT) is got
    other = DedupIndex(DedupSettings(seed=2))
    moved = seed_cache.seed_features(other, title=SEED_TITLE, text=SEED_TEXT)
    assert moved is not got and not (moved.keys == got.keys).all()
