"""Monitor configuration: valid files load; bad ones name the file, the field and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitors.config import load_config, parse_config
from monitors.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]

MINIMAL = {
    "name": "m",
    "feeds": [{"name": "a", "url": "http://127.0.0.1:1/feed.xml"}],
}


@pytest.mark.parametrize("path", ["config/sample.yaml", "config/live.yaml"])
def test_bundled_monitor_files_load(path: str) -> None:
    cfg = load_config(REPO / path)
    assert cfg.feeds and cfg.alerts.topics == ["flights", "sanctions", "summits"]
    assert cfg.alerts.require_actors == ["north_korea", "russia"]
    assert cfg.seeds_dir == (REPO / "seeds").resolve()
    assert {t.name for t in cfg.topics} >= {
        "flights",
        "sanctions",
        "summits",
        "arms",
        "visits",
        "exchanges",
    }


def test_defaults_database_in_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NEWSMON_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("NEWSMON_DATABASE_URL", raising=False)
    cfg = parse_config(MINIMAL)
    assert cfg.resolved_database_url == f"sqlite:///{tmp_path.resolve() / 'newsmon.db'}"
    monkeypatch.setenv("NEWSMON_DATABASE_URL", "postgresql://postgres@127.0.0.1/test")
    assert cfg.resolved_database_url == "postgresql://postgres@127.0.0.1/test"


def _problems(data: object) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        parse_config(data, source="mon.yaml")
    assert str(exc.value).startswith("mon.yaml: invalid monitor configuration\n")
    return exc.value.problems


def test_bad_url_names_the_field_and_value() -> None:
    data = {"name": "m", "feeds": [{"name": "a", "url": "ftp://x/feed"}]}
    assert _problems(data) == [
        "feeds.0.url: must be an http:// or https:// URL, got 'ftp://x/feed'"
    ]


def test_unknown_alert_topic_lists_allowed_topics() -> None:
    data = {**MINIMAL, "alerts": {"topics": ["summit"]}}
    (problem,) = _problems(data)
    assert problem.startswith("(top level): alerts.topics names unknown topic(s) summit; allowed: ")
    assert "summits" in problem and "flights" in problem


def test_unknown_field_and_missing_field() -> None:
    assert _problems(
        {"name": "m", "feeds": [{"name": "a", "url": "http://x/f", "intervl": 5}]}
    ) == ["feeds.0.intervl: unknown field (check the spelling; see README 'Configuration')"]
    assert _problems({"feeds": MINIMAL["feeds"]}) == ["name: required field is missing"]


def test_inline_secret_is_refused() -> None:
    data = {**MINIMAL, "channels": {"slack": {"webhook_url": "https://hooks.slack.com/services/x"}}}
    assert _problems(data) == [
        "webhook_url: secrets are not read from files; write `webhook_url: {env: VARIABLE}` "
        "or `webhook_url: {prefect_secret: BLOCK}`"
    ]


def test_duplicate_feed_names_and_bad_cron() -> None:
    feeds = [{"name": "a", "url": "http://x/1"}, {"name": "a", "url": "http://x/2"}]
    assert _problems({"name": "m", "feeds": feeds}) == [
        "(top level): feed names must be unique; repeated: a"
    ]
    assert _problems({**MINIMAL, "schedule": "every 5 minutes"}) == [
        "schedule: must be a 5-field cron expression like '*/30 * * * *', got 'every 5 minutes'"
    ]


def test_yaml_syntax_error_gives_line_and_column(tmp_path: Path) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text("name: m\nfeeds: [\n  {name: a, url: http://x/f\n")
    with pytest.raises(ConfigError) as exc:
        load_config(p)
    (problem,) = exc.value.problems
    assert problem.startswith("line 4, column 1: not valid YAML")


def test_missing_file() -> None:
    with pytest.raises(ConfigError) as exc:
        load_config("/nonexistent/monitor.yaml")
    assert (
        str(exc.value)
        == "/nonexistent/monitor.yaml: invalid monitor configuration\n  - file not found"
    )


def test_sample_monitor_takes_the_sample_port_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("NEWSMON_SAMPLE_PORT", raising=False)
    assert {f.url.split("/")[2] for f in load_config("config/sample.yaml").feeds} == {
        "127.0.0.1:8765"
    }
    monkeypatch.setenv("NEWSMON_SAMPLE_PORT", "8931")
    assert {f.url.split("/")[2] for f in load_config("config/sample.yaml").feeds} == {
        "127.0.0.1:8931"
    }


def test_an_unset_variable_without_default_names_the_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NEWSMON_NOT_SET", raising=False)
    p = tmp_path / "m.yaml"
    p.write_text(
        "# ${NEWSMON_NOT_SET} in a comment is left alone\nname: m\n"
        "feeds:\n  - {name: a, url: 'http://${NEWSMON_NOT_SET}/f'}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as exc:
        load_config(p)
    assert str(exc.value) == (
        f"{p}: invalid monitor configuration\n"
        "  - line 4: environment variable NEWSMON_NOT_SET is not set; set it or write "
        "${NEWSMON_NOT_SET:-DEFAULT}"
    )
