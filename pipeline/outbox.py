"""The alert outbox: which channels an alert goes to, and the one place an alert row is built.

Alerts are written to the database (the outbox) in the same transaction as the development
that causes them; `pipeline.deliver` sends what is due and records every attempt.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import Session

from monitors.alerts import AlertContent, alert_subject
from monitors.channels import channel_names
from monitors.channels import channel_policy as monitor_channel_policy
from monitors.config import MonitorConfig
from monitors.config_channels import DeliveryPolicy
from monitors.kinds import AlertKind, ChannelName
from storage import repo_alerts
from storage.models import Alert


def alert_channels(cfg: MonitorConfig) -> list[ChannelName]:
    """The channels every alert of this monitor goes to."""
    return [ChannelName(n) for n in channel_names(cfg)]


def channel_policy(cfg: MonitorConfig, name: str) -> DeliveryPolicy | None:
    """The routing/volume policy of a channel (the outbox has none: it takes everything)."""
    return monitor_channel_policy(cfg, name)


def routed_channels(cfg: MonitorConfig, topics: set[str]) -> list[ChannelName]:
    """The channels a news alert with `topics` (its watched topics) goes to."""
    out = []
    for name in alert_channels(cfg):
        policy = channel_policy(cfg, name)
        if policy is None or policy.topics is None or set(policy.topics) & topics:
            out.append(name)
    return out


def digest_due(policy: DeliveryPolicy | None, now: datetime) -> datetime | None:
    """When a news alert created now is first due: the next digest boundary in digest mode."""
    if policy is None or policy.mode != "digest":
        return None
    period = policy.digest_every_hours * 3600
    start = now.timestamp() - now.timestamp() % period
    return datetime.fromtimestamp(start + period, tz=UTC)


def queue_alert(
    session: Session,
    *,
    monitor: str,
    channel: ChannelName,
    kind: AlertKind,
    dedup_key: str,
    content: AlertContent,
    now: datetime,
    run_id: int | None = None,
    development_id: int | None = None,
    article_id: int | None = None,
    feed_id: int | None = None,
    next_attempt_at: datetime | None = None,
) -> Alert | None:
    """Write one alert into the outbox in the caller's transaction; None if it exists already."""
    alert = Alert(
        monitor=monitor,
        channel=channel,
        kind=kind,
        dedup_key=dedup_key,
        development_id=development_id,
        article_id=article_id,
        feed_id=feed_id,
        next_attempt_at=next_attempt_at,
        subject=alert_subject(content)[:1000],
        payload=content.to_payload(),
        created_at=now,
        run_id=run_id,
    )
    return alert if repo_alerts.add_alert(session, alert=alert) else None
