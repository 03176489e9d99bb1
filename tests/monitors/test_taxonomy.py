"""Tests of monitors.taxonomy: the bundled default; a monitor file including or overriding it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from monitors.config import load_config, parse_config
from monitors.errors import ConfigError
from monitors.tagging import Tagger
from monitors.taxonomy import default_taxonomy

MINIMAL = {"name": "m", "feeds": [{"name": "a", "url": "http://127.0.0.1:1/feed.xml"}]}
OWN_TOPIC = {"name": "ports", "terms": ["port*"], "requires_actors": ["acme"]}
OWN_ACTOR = {"name": "acme", "aliases": ["acme corp", "acme"]}


def test_defaults_cover_the_taxonomy() -> None:
    taxonomy = default_taxonomy()
    assert [t.name for t in taxonomy.topics] == [
        "flights",
        "sanctions",
        "summits",
        "arms",
        "visits",
        "exchanges",
    ]
    assert {a.name for a in taxonomy.actors} == {"north_korea", "russia"}
    assert default_taxonomy() is taxonomy  # read once
    # the YAML anchors of `shared` expand into the rules that use them
    summits = next(t for t in taxonomy.topics if t.name == "summits")
    assert taxonomy.shared["kim"] in summits.near[0].all_of


def test_a_file_without_taxonomy_key_gets_the_defaults() -> None:
    cfg = parse_config(dict(MINIMAL))
    assert cfg.topics == default_taxonomy().topics
    assert cfg.actors == default_taxonomy().actors


def test_taxonomy_default_includes_and_overrides_by_name() -> None:
    flights = {"name": "flights", "terms": ["air koryo*", "charter flight*"]}
    cfg = parse_config(
        {
            **MINIMAL,
            "taxonomy": "default",
            "topics": [flights, OWN_TOPIC],
            "actors": [OWN_ACTOR],
            "alerts": {"topics": ["flights", "ports"], "require_actors": ["acme"]},
        }
    )
    names = [t.name for t in cfg.topics]
    assert names == ["flights", "sanctions", "summits", "arms", "visits", "exchanges", "ports"]
    assert cfg.topics[0].terms == ["air koryo*", "charter flight*"] and not cfg.topics[0].near
    assert [a.name for a in cfg.actors] == ["north_korea", "russia", "acme"]
    tagger = Tagger(cfg.topics, cfg.actors, require_actors=cfg.alerts.require_actors)
    assert tagger.tag(title="Acme opens two ports", text="").topic_names() == ["ports"]
    # dumping and re-reading the file gives the same taxonomy (nothing doubles)
    again = parse_config(cfg.model_dump(by_alias=True))
    assert again.topics == cfg.topics and again.actors == cfg.actors


def test_taxonomy_none_uses_only_the_files_own_entries() -> None:
    cfg = parse_config(
        {
            **MINIMAL,
            "taxonomy": "none",
            "topics": [OWN_TOPIC],
            "actors": [OWN_ACTOR],
            "alerts": {"topics": ["ports"], "require_actors": ["acme"]},
        }
    )
    assert [t.name for t in cfg.topics] == ["ports"]
    assert [a.name for a in cfg.actors] == ["acme"]


def test_own_lists_without_taxonomy_key_replace_the_defaults() -> None:
    cfg = parse_config(
        {
            **MINIMAL,
            "topics": [OWN_TOPIC],
            "actors": [OWN_ACTOR],
            "alerts": {"topics": ["ports"], "require_actors": ["acme"]},
        }
    )
    assert [t.name for t in cfg.topics] == ["ports"]
    assert [a.name for a in cfg.actors] == ["acme"]


def test_taxonomy_file_is_included_relative_to_the_monitor_file(tmp_path: Path) -> None:
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "acme.yaml").write_text(
        yaml.safe_dump({"topics": [OWN_TOPIC], "actors": [OWN_ACTOR]}), encoding="utf-8"
    )
    monitor = {
        **MINIMAL,
        "taxonomy": "shared/acme.yaml",
        "topics": [{"name": "strikes", "terms": ["strike*"]}],
        "alerts": {"topics": ["ports", "strikes"], "require_actors": ["acme"]},
    }
    (tmp_path / "m.yaml").write_text(yaml.safe_dump(monitor), encoding="utf-8")
    cfg = load_config(tmp_path / "m.yaml")
    assert [t.name for t in cfg.topics] == ["ports", "strikes"]
    assert [a.name for a in cfg.actors] == ["acme"]


def test_bad_taxonomy_choices_name_the_file_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="taxonomy: write `default`, `none` or a path"):
        parse_config({**MINIMAL, "taxonomy": 3})
    with pytest.raises(ConfigError, match=r"(?s)missing\.yaml.*check the `taxonomy:` path"):
        parse_config({**MINIMAL, "taxonomy": str(tmp_path / "missing.yaml")})
    bad = tmp_path / "bad.yaml"
    bad.write_text("topics:\n  - name: x\n    trems: [y]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"(?s)bad\.yaml.*topics\.0\.trems: Extra inputs") as info:
        parse_config({**MINIMAL, "taxonomy": str(bad)})
    assert "bad.yaml" in str(info.value)
    with pytest.raises(ConfigError, match="every entry needs a `name:`"):
        parse_config({**MINIMAL, "taxonomy": "default", "topics": [{"terms": ["x"]}]})
