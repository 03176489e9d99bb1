"""Monitor configuration: a YAML file validated by pydantic.

A bad file raises `ConfigError` naming the file, the field and what is allowed, before any work.
Secrets (the Slack webhook URL, the SMTP password) are never read from the file: the file names
an environment variable or a Prefect Secret block that holds them.
"""

from __future__ import annotations

import os
import re
from datetime import time
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from monitors.dedup_settings import DedupSettings
from monitors.errors import ConfigError
from monitors.fetch_settings import FetchSettings
from monitors.taxonomy import ActorDefinition, TopicDefinition, default_taxonomy, resolve_taxonomy

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\- ]{0,79}$")
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_CRON = re.compile(r"^(\S+\s+){4}\S+$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


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


class SecretRef(_Strict):
    """Where a secret lives: an environment variable or a Prefect Secret block."""

    env: str | None = None
    prefect_secret: str | None = None

    @model_validator(mode="after")
    def _one(self) -> SecretRef:
        if (self.env is None) == (self.prefect_secret is None):
            raise ValueError("give exactly one of 'env' (a variable name) or 'prefect_secret'")
        if self.env is not None and not _ENV_NAME.match(self.env):
            raise ValueError(f"'env' must be an environment variable name, got {self.env!r}")
        return self

    def describe(self) -> str:
        """Human-readable location of the secret (never its value)."""
        return f"${self.env}" if self.env else f"Prefect Secret block {self.prefect_secret!r}"


ChannelName = Literal["slack", "email", "outbox"]
CHANNEL_NAMES: tuple[ChannelName, ...] = ("slack", "email", "outbox")
_QUIET = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")


class DeliveryPolicy(_Strict):
    """Routing and volume settings shared by the Slack and email channels."""

    topics: list[str] | None = Field(
        None, description="only alerts with one of these topics go here (default: every one)"
    )
    mode: Literal["immediate", "digest"] = Field(
        "immediate", description="digest: collect developments and send one message a period"
    )
    digest_every_hours: int = Field(24, ge=1, le=168)
    quiet_hours: str | None = Field(
        None, description="'HH:MM-HH:MM' in `timezone`: news alerts wait until it ends"
    )
    timezone: str = "UTC"

    @field_validator("quiet_hours")
    @classmethod
    def _quiet(cls, v: str | None) -> str | None:
        if v is not None and not _QUIET.match(v.strip()):
            raise ValueError(f"must look like '22:00-07:00', got {v!r}")
        return v.strip() if v else v

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {v!r} (use an IANA name like 'Asia/Seoul')"
            ) from None
        return v

    def quiet_bounds(self) -> tuple[time, time] | None:
        """(start, end) of the quiet hours, or None."""
        if not self.quiet_hours:
            return None
        a, b = self.quiet_hours.split("-")
        return time.fromisoformat(a), time.fromisoformat(b)


class SlackChannel(DeliveryPolicy):
    """Slack incoming webhook."""

    webhook_url: SecretRef = Field(
        default_factory=lambda: SecretRef(env="NEWSMON_SLACK_WEBHOOK_URL")
    )
    min_interval_seconds: float = Field(1.0, ge=0, description="Slack allows ~1 message/s/webhook")
    timeout_seconds: float = Field(10.0, gt=0)


class EmailChannel(DeliveryPolicy):
    """SMTP delivery."""

    host: str
    port: int = Field(587, ge=1, le=65535)
    tls: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password: SecretRef | None = None
    sender: str = Field(alias="from")
    to: list[str] = Field(min_length=1)
    timeout_seconds: float = Field(20.0, gt=0)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @field_validator("to")
    @classmethod
    def _addresses(cls, v: list[str]) -> list[str]:
        for a in v:
            if "@" not in a:
                raise ValueError(f"not an email address: {a!r}")
        return v


class ChannelsConfig(_Strict):
    """Where alerts go. With neither Slack nor email, alerts go to the file outbox only."""

    slack: SlackChannel | None = None
    email: EmailChannel | None = None
    outbox: bool = Field(True, description="also write every alert to <data_dir>/outbox/")


class AlertsConfig(_Strict):
    """Which topics alert, and the relevance scope."""

    topics: list[str] = Field(default_factory=lambda: ["flights", "sanctions", "summits"])
    require_actors: list[str] = Field(
        default_factory=lambda: ["north_korea", "russia"],
        description="actors that must all be present for an article to be in scope",
    )
    max_attempts: int = Field(8, ge=1, le=100)
    flood_limit: int = Field(
        10,
        ge=1,
        description="more new-development alerts than this due on one channel at once "
        "are sent as one digest",
    )
    operator_channels: list[ChannelName] = Field(
        default_factory=lambda: list(CHANNEL_NAMES),
        description="where failed or crashed runs are reported (those configured)",
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
        for ch_name in ("slack", "email"):
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
    for key in ("webhook_url", "password"):
        _reject_inline_secret(data, key, source)
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


def load_config(path: str | Path) -> MonitorConfig:
    """Read and validate a monitor file; raise ConfigError naming the file and field."""
    p = Path(path)
    try:
        raw = p.read_text(encoding="utf-8")
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
