"""Monitor configuration: a YAML file validated by pydantic.

A bad file raises `ConfigError` naming the file, the field and what is allowed, before any work.
Secrets (the Slack webhook URL, the SMTP password) are never read from the file: the file names
an environment variable or a Prefect Secret block that holds them.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from monitors.config_channels import AlertsConfig, ChannelsConfig, _Strict
from monitors.dedup_settings import DedupSettings
from monitors.errors import ConfigError
from monitors.fetch_settings import FetchSettings
from monitors.taxonomy import ActorDefinition, TopicDefinition, default_taxonomy, resolve_taxonomy

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\- ]{0,79}$")
_CRON = re.compile(r"^(\S+\s+){4}\S+$")


class FeedConfig(_Strict):
    """One feed to poll."""

    name: str = Field(description="short unique name, shown in logs, alerts and the UI")
    url: str = Field(description="http(s) URL of the RSS/Atom feed")
    outlet: str | None = Field(None, description="outlet shown in alerts; defaults to the name")
    poll_interval_minutes: int | None = Field(None, ge=1, le=7 * 24 * 60)
    enabled: bool = True

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError("use 1-80 letters, digits, spaces, '.', '_' or '-'")
        return v

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not re.match(r"^https?://[^\s/]+", v):
            raise ValueError(f"must be an http:// or https:// URL, got {v!r}")
        return v

    @property
    def outlet_name(self) -> str:
        """The outlet to show for this feed."""
        return self.outlet or self.name


class ShardSettings(_Strict):
    """How the shards of one round of the monitor meet before processing (`pipeline.stage`)."""

    barrier_seconds: float = Field(
        180,
        ge=0,
        le=3600,
        description="how long a shard's run waits for the other shards of its round to stage "
        "their candidates before processing what is staged",
    )


class MonitorConfig(_Strict):
    """A monitor: what to watch, how to judge it, where to alert."""

    name: str
    description: str = ""
    feeds: list[FeedConfig] = Field(min_length=1)
    seeds: Path = Field(Path("seeds"), description="seed corpus folder, relative to this file")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default sqlite:///<data_dir>/newsmon.db"
    )
    data_dir: Path | None = Field(None, description="default $NEWSMON_DATA_DIR or ./data")
    schedule: str = Field("*/30 * * * *", description="cron schedule of the deployment")
    poll_interval_minutes: int = Field(30, ge=1, le=7 * 24 * 60)
    silence_alerts: bool = Field(
        True, description="alert when a feed goes silent for much longer than its cadence"
    )
    taxonomy: str | None = Field(
        None,
        description="'default' or a taxonomy file to include (topics/actors below override "
        "or add by name), or 'none'; absent: topics/actors given replace the defaults",
    )
    topics: list[TopicDefinition] = Field(default_factory=lambda: list(default_taxonomy().topics))
    actors: list[ActorDefinition] = Field(default_factory=lambda: list(default_taxonomy().actors))
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    channels: ChannelsConfig = Field(default_factory=ChannelsConfig)
    fetch: FetchSettings = Field(default_factory=FetchSettings)
    dedup: DedupSettings = Field(default_factory=DedupSettings)
    shards: ShardSettings = Field(default_factory=ShardSettings)
    source_path: Path | None = Field(None, exclude=True, description="set by load_config")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError("use 1-80 letters, digits, spaces, '.', '_' or '-'")
        return v

    @field_validator("schedule")
    @classmethod
    def _cron(cls, v: str) -> str:
        if not _CRON.match(v.strip()):
            raise ValueError(f"must be a 5-field cron expression like '*/30 * * * *', got {v!r}")
        return v.strip()

    @model_validator(mode="after")
    def _cross_check(self) -> MonitorConfig:
        names = [f.name for f in self.feeds]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"feed names must be unique; repeated: {', '.join(dupes)}")
        topic_names = [t.name for t in self.topics]
        unknown = [t for t in self.alerts.topics if t not in topic_names]
        if unknown:
            raise ValueError(
                f"alerts.topics names unknown topic(s) {', '.join(unknown)}; "
                f"allowed: {', '.join(topic_names) or '(no topics defined)'}"
            )
        for ch_name in ("slack", "email", "apprise", "webhook"):
            ch = getattr(self.channels, ch_name)
            if ch is not None and ch.topics is not None:
                stray = [t for t in ch.topics if t not in self.alerts.topics]
                if stray:
                    raise ValueError(
                        f"channels.{ch_name}.topics names {', '.join(stray)}, which do not alert; "
                        f"allowed: {', '.join(self.alerts.topics)}"
                    )
        actor_names = [a.name for a in self.actors]
        unknown = [a for a in self.alerts.require_actors if a not in actor_names]
        if unknown:
            raise ValueError(
                f"alerts.require_actors names unknown actor(s) {', '.join(unknown)}; "
                f"allowed: {', '.join(actor_names) or '(no actors defined)'}"
            )
        return self

    # Derived locations -------------------------------------------------------------------
    @property
    def base_dir(self) -> Path:
        """The folder relative paths in the file are resolved against."""
        return self.source_path.parent if self.source_path else Path.cwd()

    @property
    def seeds_dir(self) -> Path:
        """Absolute path of the seed corpus."""
        return self.seeds if self.seeds.is_absolute() else (self.base_dir / self.seeds).resolve()

    @property
    def resolved_data_dir(self) -> Path:
        """Absolute data directory: the file's data_dir, else $NEWSMON_DATA_DIR, else ./data."""
        if self.data_dir is not None:
            d = self.data_dir if self.data_dir.is_absolute() else self.base_dir / self.data_dir
        else:
            d = Path(os.environ.get("NEWSMON_DATA_DIR") or Path.cwd() / "data")
        return d.resolve()

    @property
    def resolved_database_url(self) -> str:
        """The database URL: $NEWSMON_DATABASE_URL, the file's, or SQLite in the data dir."""
        env = os.environ.get("NEWSMON_DATABASE_URL")
        if env:
            return env
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.resolved_data_dir / 'newsmon.db'}"

    @property
    def templates_dir(self) -> Path | None:
        """Absolute folder of the monitor's alert templates, when it overrides them."""
        t = self.alerts.templates
        if t is None:
            return None
        return t if t.is_absolute() else (self.base_dir / t).resolve()

    @property
    def outbox_dir(self) -> Path:
        """Folder of the file outbox."""
        return self.resolved_data_dir / "outbox"

    def feed(self, name: str) -> FeedConfig:
        """The feed called `name`."""
        for f in self.feeds:
            if f.name == name:
                return f
        raise KeyError(name)


def _loc(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def _problem(err: dict[str, Any]) -> str:
    loc = _loc(tuple(err.get("loc", ())))
    msg = str(err.get("msg", "invalid"))
    msg = msg.removeprefix("Value error, ")
    if err.get("type") == "extra_forbidden":
        return f"{loc}: unknown field (check the spelling; see README 'Configuration')"
    if err.get("type") == "missing":
        return f"{loc}: required field is missing"
    value = err.get("input")
    plain = isinstance(value, dict | list) or value is None or repr(value) in msg
    shown = "" if plain else f" (got {value!r})"
    return f"{loc}: {msg}{shown}"


def parse_config(data: Any, *, source: str = "<config>", path: Path | None = None) -> MonitorConfig:
    """Validate an already-loaded mapping as a monitor configuration."""
    if not isinstance(data, dict):
        raise ConfigError(source, ["the file must be a YAML mapping (name:, feeds:, ...)"])
    for key in ("webhook_url", "password", "secret"):
        _reject_inline_secret(data, key, source)
    channels = data.get("channels")
    apprise = channels.get("apprise") if isinstance(channels, dict) else None
    if isinstance(apprise, dict) and isinstance(apprise.get("url"), str):
        raise ConfigError(
            source,
            [
                "channels.apprise.url: secrets are not read from files; write "
                "`url: {env: VARIABLE}` or `url: {prefect_secret: BLOCK}`"
            ],
        )
    base_dir = path.resolve().parent if path else Path.cwd()
    data = resolve_taxonomy(data, base_dir=base_dir, source=source)
    try:
        cfg = MonitorConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(source, [_problem(dict(e)) for e in exc.errors()]) from None
    cfg.source_path = path.resolve() if path else None
    return cfg


def _reject_inline_secret(data: Any, key: str, source: str) -> None:
    """Refuse a secret written into the file itself (a string where a SecretRef belongs)."""
    if isinstance(data, dict):
        for k, v in data.items():
            if k == key and isinstance(v, str):
                raise ConfigError(
                    source,
                    [
                        f"{key}: secrets are not read from files; write "
                        f"`{key}: {{env: VARIABLE}}` or `{key}: {{prefect_secret: BLOCK}}`"
                    ],
                )
            _reject_inline_secret(v, key, source)
    elif isinstance(data, list):
        for v in data:
            _reject_inline_secret(v, key, source)


_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def expand_env(raw: str, *, source: str) -> str:
    """Replace `${VAR}` and `${VAR:-default}` outside comments; ConfigError for an unset VAR."""
    out = []
    for n, line in enumerate(raw.splitlines(keepends=True), 1):
        if line.lstrip().startswith("#"):
            out.append(line)
            continue

        def sub(m: re.Match[str], n: int = n) -> str:
            value = os.environ.get(m.group(1))
            if value:
                return value
            if m.group(2) is not None:
                return m.group(2)
            raise ConfigError(
                source,
                [
                    f"line {n}: environment variable {m.group(1)} is not set; set it or write "
                    f"${{{m.group(1)}:-DEFAULT}}"
                ],
            )

        out.append(_ENV_REF.sub(sub, line))
    return "".join(out)


def load_config(path: str | Path) -> MonitorConfig:
    """Read and validate a monitor file; raise ConfigError naming the file and field.

    `${VAR}` / `${VAR:-default}` in the file are replaced from the environment first (the sample
    monitor takes its feeds' port from `$NEWSMON_SAMPLE_PORT`).
    """
    p = Path(path)
    try:
        raw = expand_env(p.read_text(encoding="utf-8"), source=str(p))
    except FileNotFoundError:
        raise ConfigError(str(p), ["file not found"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(p), [f"cannot read the file: {exc}"]) from None
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(str(p), [f"{where}not valid YAML ({problem})"]) from None
    return parse_config(data, source=str(p), path=p)
