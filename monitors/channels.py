"""The configured alert channels of a monitor: their names, routing policies and senders.

A sender is `send(content, thread_key, message_key)`: the email thread of a development and a key
that is stable across retries of one message (the webhook's idempotency key, the outbox file).
"""

from __future__ import annotations

from collections.abc import Callable

from monitors.alerts import AlertContent, render_email, render_slack, render_text
from monitors.config import MonitorConfig
from monitors.config_channels import DeliveryPolicy
from monitors.delivery import (
    AppriseSender,
    FileOutbox,
    SlackSender,
    SmtpSender,
    WebhookSender,
)
from monitors.secrets import BlockLookup, resolve_secret

#: Delivers one message: (content, email thread key, stable message key).
Send = Callable[[AlertContent, str, str], None]


def channel_names(cfg: MonitorConfig) -> list[str]:
    """The channels every alert of this monitor goes to, in a fixed order."""
    ch = cfg.channels
    out = [n for n in ("slack", "email", "apprise", "webhook") if getattr(ch, n) is not None]
    return [*out, "outbox"] if ch.outbox else out


def channel_policy(cfg: MonitorConfig, name: str) -> DeliveryPolicy | None:
    """The routing/volume policy of a channel (the outbox has none: it takes everything)."""
    if name in ("slack", "email", "apprise", "webhook"):
        policy: DeliveryPolicy | None = getattr(cfg.channels, name)
        return policy
    return None


def make_senders(cfg: MonitorConfig, *, lookup_block: BlockLookup | None = None) -> dict[str, Send]:
    """A sender per configured channel (secrets resolved now: ConfigError when one is missing)."""
    senders: dict[str, Send] = {}
    ch, templates = cfg.channels, cfg.templates_dir
    if ch.slack is not None:
        url = resolve_secret(
            ch.slack.webhook_url, field="channels.slack.webhook_url", lookup_block=lookup_block
        )
        slack = SlackSender(
            url, min_interval=ch.slack.min_interval_seconds, timeout=ch.slack.timeout_seconds
        )
        senders["slack"] = lambda c, _t, _m: slack.send(render_slack(c, templates_dir=templates))
    if ch.email is not None:
        em = ch.email
        password = (
            resolve_secret(em.password, field="channels.email.password", lookup_block=lookup_block)
            if em.password is not None
            else None
        )
        smtp = SmtpSender(
            host=em.host,
            port=em.port,
            tls=em.tls,
            username=em.username,
            password=password,
            timeout=em.timeout_seconds,
        )
        sender, to = em.sender, em.to
        senders["email"] = lambda c, t, m: smtp.send(
            render_email(
                c, sender=sender, to=to, thread_key=t, message_key=m, templates_dir=templates
            )
        )
    if ch.apprise is not None:
        apprise_url = resolve_secret(
            ch.apprise.url, field="channels.apprise.url", lookup_block=lookup_block
        )
        notifier = AppriseSender(apprise_url, body_format=ch.apprise.format)
        senders["apprise"] = lambda c, _t, _m: notifier.send(
            c, body=render_text(c, templates_dir=templates)
        )
    if ch.webhook is not None:
        secret = resolve_secret(
            ch.webhook.secret, field="channels.webhook.secret", lookup_block=lookup_block
        )
        hook = WebhookSender(ch.webhook.url, secret=secret, timeout=ch.webhook.timeout_seconds)
        senders["webhook"] = lambda c, _t, m: hook.send(c, key=m)
    if ch.outbox:
        box = FileOutbox(cfg.outbox_dir)

        def _to_outbox(content: AlertContent, _thread: str, key: str) -> None:
            box.send(content, key=key)

        senders["outbox"] = _to_outbox
    return senders
