"""Monitor configuration, alert side: the alert settings and the channel settings models.

Secrets (the Slack webhook URL, the SMTP password) are never read from the file: a `SecretRef`
names an environment variable or a Prefect Secret block that holds them.
"""

from __future__ import annotations

import re
from datetime import time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


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


ChannelName = Literal["slack", "email", "apprise", "webhook", "outbox"]
CHANNEL_NAMES: tuple[ChannelName, ...] = ("slack", "email", "apprise", "webhook", "outbox")
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


class AppriseChannel(DeliveryPolicy):
    """Any Apprise URL (Teams, Discord, Telegram, ntfy, Matrix, ...): https://github.com/caronc/apprise."""

    url: SecretRef = Field(
        default_factory=lambda: SecretRef(env="NEWSMON_APPRISE_URL"),
        description="where the Apprise URL is kept (it holds the service's token)",
    )
    format: Literal["text", "markdown"] = Field("markdown", description="body format sent")


class WebhookChannel(DeliveryPolicy):
    """A generic JSON webhook: one POST per alert, HMAC-signed, with an idempotency key."""

    url: str = Field(description="http(s) URL the alerts are POSTed to")
    secret: SecretRef = Field(
        default_factory=lambda: SecretRef(env="NEWSMON_WEBHOOK_SECRET"),
        description="HMAC-SHA256 key of the X-Newsmon-Signature header",
    )
    timeout_seconds: float = Field(10.0, gt=0)

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not re.match(r"^https?://[^\s/]+", v):
            raise ValueError(f"must be an http:// or https:// URL, got {v!r}")
        return v


class ChannelsConfig(_Strict):
    """Where alerts go. With no other channel configured, alerts go to the file outbox only."""

    slack: SlackChannel | None = None
    email: EmailChannel | None = None
    apprise: AppriseChannel | None = None
    webhook: WebhookChannel | None = None
    outbox: bool = Field(True, description="also write every alert to <data_dir>/outbox/")


class AlertsConfig(_Strict):
    """Which topics alert, and the relevance scope."""

    topics: list[str] = Field(default_factory=lambda: ["flights", "sanctions", "summits"])
    require_actors: list[str] = Field(
        default_factory=lambda: ["north_korea", "russia"],
        description="actors that must all be present for an article to be in scope",
    )
    templates: Path | None = Field(
        None,
        description="folder of alert templates overriding the bundled ones "
        "(email.txt.j2, email.html.j2, slack.txt.j2), relative to this file",
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
