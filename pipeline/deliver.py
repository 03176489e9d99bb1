"""Delivering what the outbox owes: claim due alerts, send them, record every attempt.

Transient failures retry with backoff, permanent ones are dead-lettered for `newsmon alerts`.
Claims are committed before anything is sent (a run that dies mid-delivery leaves a claim
that expires), and each message's attempt is recorded in its own transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from monitors.alerts import AlertContent
from monitors.channels import Send, channel_policy, make_senders
from monitors.clock import as_utc, utcnow
from monitors.config import MonitorConfig
from monitors.config_channels import DeliveryPolicy
from monitors.delivery import in_quiet_hours, render_digest
from monitors.errors import ConfigError, DeliveryError, NewsmonError
from monitors.kinds import NEWS_KINDS, AlertKind, AttemptOutcome
from monitors.retry import retry_delay
from monitors.secrets import BlockLookup
from pipeline.outbox import alert_channels, queue_alert
from storage import repo_alerts
from storage.db import session_scope
from storage.models import Alert

#: A claimed alert whose run died is sent again after this lease (at most one duplicate).
DELIVERY_LEASE = timedelta(minutes=10)


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
    senders = make_senders(cfg, lookup_block=lookup_block)
    return {n: Channel(n, send, channel_policy(cfg, n)) for n, send in senders.items()}


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
    with session_scope(engine) as s:
        names = repo_alerts.due_alert_channels(s, monitor=cfg.name, now=now, ids=alert_ids)
    # one channel at a time, claimed just before it is sent: a crash holds back only that one
    for name in names:
        with session_scope(engine) as s:  # claims are committed before anything is sent
            alerts = repo_alerts.claim_due_alerts(
                s,
                monitor=cfg.name,
                now=now,
                lease=DELIVERY_LEASE,
                limit=1000,
                ids=alert_ids,
                channel=name,
            )
        if not alerts:
            continue
        channel = channels.get(name)
        if channel is None:
            with session_scope(engine) as s:
                for alert in alerts:
                    repo_alerts.release_alert(s, alert=alert, until=now + timedelta(hours=1))
            report.deferred += len(alerts)
            report.messages.append(
                f"{len(alerts)} alert(s) for channel {name!r}, which is not configured now, "
                "stay pending; configure it again or they wait"
            )
            continue
        news = [a for a in alerts if a.kind in NEWS_KINDS]
        for alert in alerts:
            if alert.kind not in NEWS_KINDS:
                _deliver(cfg, engine, channel, [alert], None, now, report)
        quiet_end = quiet_until(channel.policy, now)
        if quiet_end is not None and news:
            with session_scope(engine) as s:
                for alert in news:
                    repo_alerts.release_alert(s, alert=alert, until=quiet_end)
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
            _deliver(cfg, engine, channel, news, content, now, report)
            report.digests += 1
        else:
            for alert in news:
                _deliver(cfg, engine, channel, [alert], None, now, report)
    return report


def _deliver(
    cfg: MonitorConfig,
    engine: Engine,
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
        content.created_at = as_utc(first.created_at) or content.created_at  # one created_at
        thread, key = _thread_key(first), _message_key(first)
    else:
        thread = f"{cfg.name}:digest:{first.id}"
        key = f"digest-{first.id}-{alerts[-1].id}-{len(alerts)}"
    what = f"alert {first.id}" if len(alerts) == 1 else f"digest of {len(alerts)} alerts"
    outcome, detail, retry_at = _send(cfg, channel, alerts, content, thread, key, now)
    with session_scope(engine) as s:  # the attempt is recorded whatever happened
        for a in alerts:
            repo_alerts.record_attempt(
                s, alert=a, outcome=outcome, detail=detail, now=now, next_attempt_at=retry_at
            )
    if outcome == AttemptOutcome.SENT:
        report.sent += len(alerts)
    elif outcome == AttemptOutcome.PERMANENT:
        report.dead += len(alerts)
        report.messages.append(
            f"{what} on {channel.name} dead-lettered: {detail}; see `newsmon alerts`, "
            "resend with `newsmon alerts retry`"
        )
    else:
        report.retrying += len(alerts)
        wait = (retry_at - now).total_seconds() if retry_at else 0.0
        report.messages.append(f"{what} on {channel.name}: {detail} (retry in {wait:.0f}s)")


def _send(
    cfg: MonitorConfig,
    channel: Channel,
    alerts: list[Alert],
    content: AlertContent,
    thread: str,
    key: str,
    now: datetime,
) -> tuple[AttemptOutcome, str, datetime | None]:
    """Send the message (no transaction open): (outcome, detail, when to retry)."""
    attempts = max(a.attempts for a in alerts) + 1
    try:
        channel.send(content, thread, key)
    except DeliveryError as exc:
        if exc.transient and attempts < cfg.alerts.max_attempts:
            delay = retry_delay(attempts, retry_after=exc.retry_after)
            return AttemptOutcome.TRANSIENT, str(exc), now + timedelta(seconds=delay)
        return AttemptOutcome.PERMANENT, str(exc), None
    except (NewsmonError, OSError, ValueError) as exc:
        detail = f"unexpected {type(exc).__name__}: {exc}"
        return AttemptOutcome.TRANSIENT, detail, now + timedelta(seconds=retry_delay(attempts))
    return AttemptOutcome.SENT, "ok", None


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
            alert = queue_alert(
                s,
                monitor=cfg.name,
                channel=name,
                kind=AlertKind.RUN_FAILED,
                dedup_key=f"run:{run_key}",
                content=content,
                now=now,
            )
            if alert is not None:
                ids.append(alert.id or 0)
    return deliver_pending(cfg, engine, now=now, alert_ids=ids) if ids else DeliveryReport()
