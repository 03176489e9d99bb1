"""The alert outbox: which channels an alert goes to, and delivering what is owed.

Alerts are written to the database (the outbox) in the same transaction as the development
that causes them; `deliver_pending` claims what is due, sends it and records every attempt:
transient failures retry with backoff, permanent ones are dead-lettered for `newsmon alerts`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session

from monitors.alerts import AlertContent, alert_subject, render_email, render_slack
from monitors.clock import utcnow
from monitors.config import DeliveryPolicy, MonitorConfig
from monitors.delivery import (
    FileOutbox,
    SlackSender,
    SmtpSender,
    in_quiet_hours,
    render_digest,
)
from monitors.errors import ConfigError, DeliveryError, NewsmonError
from monitors.retry import retry_delay
from monitors.secrets import BlockLookup, resolve_secret
from storage import repository as repo
from storage.db import session_scope
from storage.models import Alert

#: A claimed alert whose run died is sent again after this lease (at most one duplicate).
DELIVERY_LEASE = timedelta(minutes=10)


def alert_channels(cfg: MonitorConfig) -> list[str]:
    """The channels every alert of this monitor goes to."""
    out = []
    if cfg.channels.slack is not None:
        out.append("slack")
    if cfg.channels.email is not None:
        out.append("email")
    if cfg.channels.outbox:
        out.append("outbox")
    return out


# --- deliver -------------------------------------------------------------------------------
#: Alert kinds that are news: routed by topic, collected in digests, held in quiet hours and
#: subject to the flood guard. Operational kinds (feed health, failed runs) go out at once.
NEWS_KINDS = frozenset({"new_development", "update"})

#: Delivers one message: (content, email thread key, stable message key).
Send = Callable[[AlertContent, str, str], None]


@dataclass
class DeliveryReport:
    """What `deliver_pending` did."""

    sent: int = 0
    retrying: int = 0
    dead: int = 0
    deferred: int = 0
    digests: int = 0
    messages: list[str] = field(default_factory=list)


@dataclass
class Channel:
    """A configured alert channel: how to send, and its routing/volume policy."""

    name: str
    send: Send
    policy: DeliveryPolicy | None = None


def channel_policy(cfg: MonitorConfig, name: str) -> DeliveryPolicy | None:
    """The routing/volume policy of a channel (the outbox has none: it takes everything)."""
    if name == "slack":
        return cfg.channels.slack
    if name == "email":
        return cfg.channels.email
    return None


def routed_channels(cfg: MonitorConfig, topics: set[str]) -> list[str]:
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


def quiet_until(policy: DeliveryPolicy | None, now: datetime) -> datetime | None:
    """The end of the channel's quiet hours when `now` falls inside them, else None."""
    bounds = policy.quiet_bounds() if policy is not None else None
    if policy is None or bounds is None:
        return None
    local = now.astimezone(ZoneInfo(policy.timezone))
    start, end = bounds
    if not in_quiet_hours(local, start=start, end=end):
        return None
    until = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    if until <= local:
        until += timedelta(days=1)
    return until.astimezone(UTC)


def make_channels(
    cfg: MonitorConfig, *, lookup_block: BlockLookup | None = None
) -> dict[str, Channel]:
    """The configured channels with their senders (secrets resolved now)."""
    channels: dict[str, Channel] = {}
    slack_cfg, email_cfg = cfg.channels.slack, cfg.channels.email
    if slack_cfg is not None:
        url = resolve_secret(
            slack_cfg.webhook_url, field="channels.slack.webhook_url", lookup_block=lookup_block
        )
        slack = SlackSender(
            url, min_interval=slack_cfg.min_interval_seconds, timeout=slack_cfg.timeout_seconds
        )
        channels["slack"] = Channel(
            "slack", lambda c, _t, _m: slack.send(render_slack(c)), slack_cfg
        )
    if email_cfg is not None:
        password = (
            resolve_secret(
                email_cfg.password, field="channels.email.password", lookup_block=lookup_block
            )
            if email_cfg.password is not None
            else None
        )
        smtp = SmtpSender(
            host=email_cfg.host,
            port=email_cfg.port,
            tls=email_cfg.tls,
            username=email_cfg.username,
            password=password,
            timeout=email_cfg.timeout_seconds,
        )
        sender, to = email_cfg.sender, email_cfg.to
        channels["email"] = Channel(
            "email",
            lambda c, t, m: smtp.send(
                render_email(c, sender=sender, to=to, thread_key=t, message_key=m)
            ),
            email_cfg,
        )
    if cfg.channels.outbox:
        box = FileOutbox(cfg.outbox_dir)

        def to_outbox(content: AlertContent, _thread: str, key: str) -> None:
            box.send(content, key=key)

        channels["outbox"] = Channel("outbox", to_outbox)
    return channels


def _thread_key(alert: Alert) -> str:
    if alert.development_id is not None:
        return f"{alert.monitor}:dev:{alert.development_id}"
    if alert.feed_id is not None:
        return f"{alert.monitor}:feed:{alert.feed_id}"
    return f"{alert.monitor}:{alert.dedup_key}"


def _message_key(alert: Alert) -> str:
    return f"{alert.kind}-{alert.dedup_key}"


def deliver_pending(
    cfg: MonitorConfig,
    engine: Engine,
    *,
    now: datetime | None = None,
    channels: dict[str, Channel] | None = None,
    lookup_block: BlockLookup | None = None,
    alert_ids: list[int] | None = None,
) -> DeliveryReport:
    """Send every due alert of the outbox; transient failures retry later, permanent ones die.

    Per channel: operational alerts go out one by one; news alerts wait out quiet hours, and
    go as one digest in digest mode or when more than `alerts.flood_limit` are due at once.
    """
    report = DeliveryReport()
    try:
        channels = (
            channels if channels is not None else make_channels(cfg, lookup_block=lookup_block)
        )
    except (ConfigError, DeliveryError) as exc:
        report.messages.append(f"alerts not delivered (they stay pending): {exc}")
        return report
    now = now or utcnow()
    with Session(engine, expire_on_commit=False) as s:
        claimed = repo.claim_due_alerts(
            s, monitor=cfg.name, now=now, lease=DELIVERY_LEASE, limit=1000, ids=alert_ids
        )
        by_channel: dict[str, list[Alert]] = {}
        for alert in claimed:
            by_channel.setdefault(alert.channel, []).append(alert)
        for name, alerts in by_channel.items():
            channel = channels.get(name)
            if channel is None:
                for alert in alerts:
                    repo.release_alert(s, alert=alert, until=now + timedelta(hours=1))
                    report.deferred += 1
                report.messages.append(
                    f"{len(alerts)} alert(s) for channel {name!r}, which is not configured now, "
                    "stay pending; configure it again or they wait"
                )
                continue
            news = [a for a in alerts if a.kind in NEWS_KINDS]
            for alert in alerts:
                if alert.kind not in NEWS_KINDS:
                    _deliver(cfg, s, channel, [alert], None, now, report)
            quiet_end = quiet_until(channel.policy, now)
            if quiet_end is not None and news:
                for alert in news:
                    repo.release_alert(s, alert=alert, until=quiet_end)
                report.deferred += len(news)
                report.messages.append(
                    f"{len(news)} alert(s) on {name} held for quiet hours until "
                    f"{quiet_end:%Y-%m-%d %H:%M} UTC"
                )
                continue
            digest = channel.policy is not None and channel.policy.mode == "digest"
            if news and (digest or len(news) > cfg.alerts.flood_limit):
                period = (
                    f"the last {channel.policy.digest_every_hours} h"
                    if digest and channel.policy is not None
                    else f"one run ({len(news)} at once: flood guard)"
                )
                content = render_digest(
                    [AlertContent.from_payload(a.payload or {}) for a in news],
                    monitor=cfg.name,
                    period=period,
                )
                _deliver(cfg, s, channel, news, content, now, report)
                report.digests += 1
            else:
                for alert in news:
                    _deliver(cfg, s, channel, [alert], None, now, report)
    return report


def _deliver(
    cfg: MonitorConfig,
    s: Session,
    channel: Channel,
    alerts: list[Alert],
    content: AlertContent | None,
    now: datetime,
    report: DeliveryReport,
) -> None:
    """Send one message for `alerts` (one alert, or a digest of several) and record it."""
    first = alerts[0]
    if content is None:
        content = AlertContent.from_payload(first.payload or {})
        thread, key = _thread_key(first), _message_key(first)
    else:
        thread = f"{cfg.name}:digest:{first.id}"
        key = f"digest-{first.id}-{alerts[-1].id}-{len(alerts)}"
    what = f"alert {first.id}" if len(alerts) == 1 else f"digest of {len(alerts)} alerts"
    try:
        channel.send(content, thread, key)
    except DeliveryError as exc:
        attempts = max(a.attempts for a in alerts) + 1
        if exc.transient and attempts < cfg.alerts.max_attempts:
            delay = retry_delay(attempts, retry_after=exc.retry_after)
            for a in alerts:
                repo.record_attempt(
                    s,
                    alert=a,
                    outcome="transient",
                    detail=str(exc),
                    now=now,
                    next_attempt_at=now + timedelta(seconds=delay),
                )
            report.retrying += len(alerts)
            report.messages.append(f"{what} on {channel.name}: {exc} (retry in {delay:.0f}s)")
        else:
            for a in alerts:
                repo.record_attempt(s, alert=a, outcome="permanent", detail=str(exc), now=now)
            report.dead += len(alerts)
            report.messages.append(
                f"{what} on {channel.name} dead-lettered: {exc}; see `newsmon alerts`, "
                "resend with `newsmon alerts retry`"
            )
        return
    except (NewsmonError, OSError, ValueError) as exc:
        attempts = max(a.attempts for a in alerts) + 1
        for a in alerts:
            repo.record_attempt(
                s,
                alert=a,
                outcome="transient",
                now=now,
                detail=f"unexpected {type(exc).__name__}: {exc}",
                next_attempt_at=now + timedelta(seconds=retry_delay(attempts)),
            )
        report.retrying += len(alerts)
        report.messages.append(f"{what} on {channel.name}: {type(exc).__name__}: {exc}")
        return
    for a in alerts:
        repo.record_attempt(s, alert=a, outcome="sent", detail="ok", now=now)
    report.sent += len(alerts)


def notify_run_failure(
    cfg: MonitorConfig,
    engine: Engine,
    *,
    run_key: str,
    message: str,
    run_url: str | None = None,
    now: datetime | None = None,
) -> DeliveryReport:
    """Tell the operator channels that a run failed or crashed (once per run), and send it."""
    now = now or utcnow()
    content = AlertContent(
        monitor=cfg.name,
        kind="run_failed",
        headline=f"newsmon run of {cfg.name} failed",
        summary=message[:2000],
        run_url=run_url,
    )
    ids = []
    with session_scope(engine) as s:
        for name in alert_channels(cfg):
            if name not in cfg.alerts.operator_channels:
                continue
            alert = Alert(
                monitor=cfg.name,
                channel=name,
                kind="run_failed",
                dedup_key=f"run:{run_key}",
                subject=alert_subject(content)[:1000],
                payload=content.to_payload(),
                created_at=now,
            )
            if repo.add_alert(s, alert=alert):
                s.flush()
                ids.append(alert.id or 0)
    return deliver_pending(cfg, engine, now=now, alert_ids=ids) if ids else DeliveryReport()
