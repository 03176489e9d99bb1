"""Email rendering: the text and HTML parts from Jinja2 templates (`email.txt.j2`,
`email.html.j2`, user-overridable) and a multipart message threaded per development."""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path
from urllib.parse import quote

from monitors.alert_content import AlertContent
from monitors.alert_templates import render_template
from monitors.alert_text import alert_subject, one_line


def render_text(content: AlertContent, *, templates_dir: Path | None = None) -> str:
    """Plain-text rendering (email text part, file outbox). Matched terms are marked *like this*."""
    return render_template("email.txt.j2", content, templates_dir=templates_dir)


def render_html(content: AlertContent, *, templates_dir: Path | None = None) -> str:
    """HTML email body; every user-supplied string is escaped, only http(s)/mailto URLs link."""
    return render_template("email.html.j2", content, templates_dir=templates_dir)


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug or "monitor"


def thread_root_id(thread_key: str, *, domain: str = "newsmon.local") -> str:
    """The stable Message-ID of a thread: `<sha1(thread_key)@domain>`."""
    return f"<{hashlib.sha1(thread_key.encode('utf-8')).hexdigest()}@{domain}>"


#: Kinds whose email opens its thread (Message-ID = the thread root). Only a development's first
#: alert qualifies: there is exactly one per development and channel (the outbox's unique key).
THREAD_OPENING_KINDS: frozenset[str] = frozenset({"new_development"})


def render_email(
    content: AlertContent,
    *,
    sender: str,
    to: list[str],
    thread_key: str,
    domain: str = "newsmon.local",
    message_key: str | None = None,
    templates_dir: Path | None = None,
) -> EmailMessage:
    """A multipart/alternative email (text + HTML) threaded per development.

    Threading scheme: the root id is `<sha1(thread_key)@domain>`. A `new_development` alert IS the
    root (its Message-ID is the root id, so a retry re-sends the same id and receivers drop the
    duplicate). Every other kind gets its own Message-ID `<sha1(thread_key)[:16].X@domain>` and
    `In-Reply-To`/`References` pointing at the root; X is derived from `message_key` when given
    (stable across retries, e.g. the outbox row id) and random otherwise.
    Pass the same `thread_key` (e.g. `"dev:42"`) for every alert of one development.
    """
    if not to:
        raise ValueError("render_email: 'to' must name at least one recipient address")
    root = thread_root_id(thread_key, domain=domain)
    msg = EmailMessage()
    msg["Subject"] = alert_subject(content)
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Date"] = format_datetime(datetime.now(UTC))
    if content.kind in THREAD_OPENING_KINDS:
        msg["Message-ID"] = root
    else:
        key_hash = hashlib.sha1(thread_key.encode("utf-8")).hexdigest()[:16]
        unique = (
            hashlib.sha1(message_key.encode("utf-8")).hexdigest()[:20]
            if message_key is not None
            else uuid.uuid4().hex
        )
        msg["Message-ID"] = f"<{key_hash}.{unique}@{domain}>"
        msg["In-Reply-To"] = root
        msg["References"] = root
    monitor = one_line(content.monitor)
    msg["List-Id"] = f"newsmon monitor {monitor} <{_slug(monitor)}.{domain}>"
    address = parseaddr(sender)[1] or sender
    unsubscribe = quote(f"unsubscribe newsmon monitor {monitor}")
    msg["List-Unsubscribe"] = f"<mailto:{address}?subject={unsubscribe}>"
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Newsmon-Monitor"] = monitor
    msg["X-Newsmon-Kind"] = content.kind
    if content.development_id is not None:
        msg["X-Newsmon-Development"] = str(content.development_id)
    msg.set_content(render_text(content, templates_dir=templates_dir), charset="utf-8")
    msg.add_alternative(
        render_html(content, templates_dir=templates_dir), subtype="html", charset="utf-8"
    )
    return msg
